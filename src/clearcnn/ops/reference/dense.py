"""Fully connected layer on (F, N) columns: y = activation(kernel^T x + bias), kernel (F_in, units) as Keras
stores it. `product` is the matrix product used (np.matmul's signature), which another backend may replace
with its own."""
import numpy as np


def dense_forward(x, kernel, bias, activation, product=np.matmul):
    """x (F_in, N) -> y (units, N), and what dense_backward needs."""
    z = product(kernel.T, x)
    if bias is not None:
        z += bias[:, None]
    y = activation.forward(z)
    return y, (x, z, y)


def dense_backward(dy, kernel, cache, activation, input_grad=True, product=np.matmul):
    """Gradients (dx, dkernel, dbias) for upstream dy (units, N); dx is None when not wanted."""
    x, z, y = cache
    dz = activation.backward(z, y, dy)
    dkernel = product(dz, x.T).T  # (in, units), in the kernel's own memory order when that is the transpose's
    dbias = dz.sum(axis=1)
    dx = product(kernel, dz) if input_grad else None
    return dx, dkernel, dbias


def dense_kernel_storage(kernel):
    """The kernel as this backend keeps it in memory: as it is."""
    return kernel
