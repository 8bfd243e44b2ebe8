"""Flatten internal (C, d1, ..., d_{k-1}, N) into (d1 * ... * C, N) columns: row-major over the public
axes (d1, ..., d_{k-1}, C), as Keras flattens (batch, H, W, C)."""
import numpy as np


def _public_order(ndim):
    """Axis order that puts the internal array's feature axes in public order, batch last."""
    return (*range(1, ndim - 1), 0, ndim - 1)


def flatten_forward(x):
    return x.transpose(_public_order(x.ndim)).reshape(-1, x.shape[-1])


def flatten_backward(dy, shape):
    order = _public_order(len(shape))
    # Contiguous, so that later element-wise ops and their outputs all run in one memory order.
    return np.ascontiguousarray(dy.reshape([shape[a] for a in order]).transpose(np.argsort(order)))
