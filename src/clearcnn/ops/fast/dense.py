"""Fully connected layer, fast: the reference's products split over the engine's threads, and the kernel held
in memory as its transpose (one run of weights per unit, as PyTorch holds it), which one image's product
kernel^T x reads in order."""
import numpy as np

from ..reference import dense as reference
from .parallel import matmul


def dense_forward(x, kernel, bias, activation):
    return reference.dense_forward(x, kernel, bias, activation, product=matmul)


def dense_backward(dy, kernel, cache, activation, input_grad=True):
    return reference.dense_backward(dy, kernel, cache, activation, input_grad, product=matmul)


def dense_kernel_storage(kernel):
    """(in, units) as Keras shapes it, laid out in memory as its transpose."""
    return np.asfortranarray(kernel)
