"""A convolution's bias and ReLU after its product, and ReLU's adjoint before the gradients' products, compiled
with Numba: one pass over each channel's row where NumPy makes two and allocates a mask. Both work on rows
start to stop of (F, M) arrays, one row per output channel.

Zero is written np.float32(0), which float64 arrays widen: an integer 0 would turn float32 arithmetic into
float64."""
import numpy as np

from . import jit


@jit
def add_bias_relu(y, bias, relu, start, stop):
    """y[f] += bias[f], then y[f] = max(y[f], 0) when `relu`."""
    for f in range(start, stop):
        row, b = y[f], bias[f]
        if relu:
            for i in range(row.size):
                row[i] = max(row[i] + b, np.float32(0))
        else:
            for i in range(row.size):
                row[i] += b


@jit
def relu_adjoint(dy, y, dz, start, stop):
    """dz[f] = dy[f] where ReLU's output y[f] is positive, else 0."""
    for f in range(start, stop):
        dy_row, y_row, dz_row = dy[f], y[f], dz[f]
        for i in range(dz_row.size):
            dz_row[i] = dy_row[i] if y_row[i] > 0 else np.float32(0)
