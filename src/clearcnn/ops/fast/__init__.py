"""The fast backend: the reference's results, sooner. It may only add speed.

- Convolutions choose their algorithm per call (conv.py): Winograd F(4x4, 3x3) for 3x3 stride-1 kernels
  (winograd.py), im2col otherwise, with bias and ReLU fused into the last pass.
- Kernels compiled with Numba (jit/, loaded by compiled.py) do what NumPy cannot make fast: Winograd's tile
  transforms, max pooling, batch normalisation, the optimizer steps. Without Numba, the NumPy code runs instead.
- One thread pool of the engine's own, with BLAS held to one thread (parallel.py), inside batch_scope().
- Buffers are kept from call to call in each layer's workspace and in per-thread scratch (workspace.py).
"""
from ..reference import (
    dropout_backward,
    dropout_forward,
    flatten_backward,
    flatten_forward,
    global_avg_pool2d_backward,
    global_avg_pool2d_forward,
    global_max_pool2d_backward,
    global_max_pool2d_forward,
    moving_average,
)
from ..reference.image import (
    brightness_backward,
    brightness_forward,
    contrast_backward,
    contrast_forward,
    crop_backward,
    crop_forward,
    flip_forward,
)
from ..reference.resample import affine_backward, affine_forward, resize_backward, resize_forward
from .conv import conv2d_backward, conv2d_forward
from .dense import dense_backward, dense_forward, dense_kernel_storage
from .normalization import batch_norm_backward, batch_norm_forward
from .optimizers import adam_step, rmsprop_step, sgd_step
from .parallel import engine_threads as batch_scope
from .pool import avg_pool2d_backward, avg_pool2d_forward, max_pool2d_backward, max_pool2d_forward
from .workspace import Workspace as new_workspace
