"""Bias and ReLU after a convolution's product, and ReLU's adjoint before its gradients' products, on (F, M)
arrays, one row per output channel: compiled and split over the channels where the kernels run (jit/relu.py),
NumPy's passes otherwise, and for arrays of fewer than NUMPY_BELOW numbers, which stay in the cache between
NumPy's passes and cost less than a call into compiled code (one image's layers, which then need no Numba)."""
import numpy as np

from . import compiled
from .parallel import run_over_channels

NUMPY_BELOW = 2e5


def _kernels(array):
    return compiled.kernels() if array.size >= NUMPY_BELOW else None


def add_bias_relu(y, bias, relu):
    """y (F, M) += bias, then max(y, 0) when `relu`, in place."""
    kernels = _kernels(y)
    if kernels is None:
        if bias is not None:
            y += bias[:, None]
        if relu:
            np.maximum(y, 0, out=y)
    elif bias is not None or relu:
        bias = np.zeros(len(y), y.dtype) if bias is None else bias
        run_over_channels(lambda start, stop: kernels.relu.add_bias_relu(y, bias, relu, start, stop), y)


def relu_adjoint(dy, relu_output):
    """dy where ReLU's output is positive, else 0, as a new (F, M) array: F channels, one row each."""
    dy, relu_output = dy.reshape(len(dy), -1), relu_output.reshape(len(dy), -1)
    kernels = _kernels(dy)
    if kernels is None:
        return dy * (relu_output > 0)
    dz = np.empty(dy.shape, dy.dtype)
    run_over_channels(lambda start, stop: kernels.relu.relu_adjoint(dy, relu_output, dz, start, stop), dz,
                      passes=3)
    return dz
