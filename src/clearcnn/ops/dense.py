"""Fully connected layer on (F, N) columns: y = kernel^T x + bias, kernel (F_in, units) as Keras stores it."""
from .parallel import matmul


def dense_forward(x, kernel, bias):
    """x (F_in, N) -> y (units, N)."""
    y = matmul(kernel.T, x)
    if bias is not None:
        y += bias[:, None]
    return y


def dense_backward(dy, x, kernel, input_grad=True):
    """Gradients (dx, dkernel, dbias) for upstream dy (units, N)."""
    dkernel = matmul(dy, x.T).T  # (in, units) in the kernel's own memory order (layers/core.py, Dense.build)
    dbias = dy.sum(axis=1)
    dx = matmul(kernel, dy) if input_grad else None
    return dx, dkernel, dbias
