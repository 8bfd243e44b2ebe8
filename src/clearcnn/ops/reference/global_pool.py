"""Global pooling on (C, H, W, N): one window covering the whole image, reduced to (C, N).

Average pooling takes the mean of the H * W cells; max pooling takes the largest, and its gradient goes to
exactly one cell per image and channel, the first maximum in row-major order, as the windowed max pool does.
"""
import numpy as np


def _cells(x):
    """(C, H, W, N) as (C, H * W, N): a view."""
    return x.reshape(x.shape[0], -1, x.shape[-1])


def global_avg_pool2d_forward(x):
    """Return y (C, N): each image's mean over its H * W cells."""
    return _cells(x).mean(axis=1)


def global_avg_pool2d_backward(dy, in_shape):
    """Every cell of an image gets its channel's gradient divided by the cell count H * W."""
    share = dy / dy.dtype.type(in_shape[1] * in_shape[2])
    return np.ascontiguousarray(np.broadcast_to(share[:, None, None, :], in_shape))


def global_max_pool2d_forward(x):
    """Return y (C, N) and, for backward, the winning cell of each (channel, image): its row-major index in
    H * W, the first one when several cells tie (argmax returns the first maximum)."""
    cells = _cells(x)
    winner = cells.argmax(axis=1)
    return np.take_along_axis(cells, winner[:, None, :], axis=1)[:, 0, :], winner


def global_max_pool2d_backward(dy, winner, in_shape):
    """Each (channel, image)'s gradient goes to its winning cell; every other cell gets zero."""
    dx = np.zeros((in_shape[0], in_shape[1] * in_shape[2], in_shape[3]), dy.dtype)
    np.put_along_axis(dx, winner[:, None, :], dy[:, None, :], axis=1)
    return dx.reshape(in_shape)
