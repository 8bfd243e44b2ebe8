"""The reference backend: the textbook algorithms in plain NumPy, each readable in one sitting.

What a reader studies, and what the tests hold every other backend against. No scratch buffers, no threads:
`workspace` arguments are accepted and ignored, and `batch_scope` does nothing.
"""
from contextlib import nullcontext as batch_scope

from .conv import conv2d_backward, conv2d_forward
from .dense import dense_backward, dense_forward, dense_kernel_storage
from .dropout import dropout_backward, dropout_forward
from .flatten import flatten_backward, flatten_forward
from .global_pool import (
    global_avg_pool2d_backward,
    global_avg_pool2d_forward,
    global_max_pool2d_backward,
    global_max_pool2d_forward,
)
from .image import (
    brightness_backward,
    brightness_forward,
    contrast_backward,
    contrast_forward,
    crop_backward,
    crop_forward,
    flip_forward,
)
from .normalization import batch_norm_backward, batch_norm_forward, moving_average
from .optimizers import adam_step, rmsprop_step, sgd_step
from .pool import avg_pool2d_backward, avg_pool2d_forward, max_pool2d_backward, max_pool2d_forward
from .resample import affine_backward, affine_forward, resize_backward, resize_forward


def new_workspace():
    """A layer's workspace: none, here."""
    return None
