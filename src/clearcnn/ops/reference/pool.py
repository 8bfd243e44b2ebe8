"""Max and average pooling on (C, H, W, N), through the same window taps as convolution.

Max pooling pads with -inf, so padded cells never win; its gradient goes to exactly one position
per window, the first maximum in row-major order, even when several cells tie.
Average pooling divides each window by the number of real (unpadded) cells it holds, as Keras does
for padding="same".
"""
import numpy as np


def _max_over_taps(source, geometry):
    first, *rest = geometry.taps()
    y = geometry.tap(source, *first).copy()
    for i, j in rest:
        np.maximum(y, geometry.tap(source, i, j), out=y)
    return y


def _to_first_max(dy, source, y, geometry):
    """Send each window's gradient to its first maximum.

    `remaining` holds the gradient not yet handed out: the first tap equal to the maximum takes all of
    it, and later ties find nothing left. Four passes per tap, and no boolean bookkeeping.
    """
    d_source = np.zeros_like(source)
    remaining = np.array(dy, order="C")
    hit = np.empty(y.shape, dtype=bool)
    share = np.empty_like(remaining)
    for i, j in geometry.taps():
        np.equal(geometry.tap(source, i, j), y, out=hit)
        np.multiply(remaining, hit, out=share)
        target = geometry.tap(d_source, i, j)
        target += share
        remaining -= share
    return d_source


def max_pool2d_forward(x, geometry):
    """Return y (C, OH, OW, N) and what max_pool2d_backward needs: the padded input."""
    xp = geometry.pad(x, value=-np.inf)
    return _max_over_taps(xp, geometry), xp


def max_pool2d_backward(dy, cache, y, geometry):
    """Each window's gradient goes to its first maximum in row-major order, even when cells tie."""
    return np.ascontiguousarray(geometry.unpad(_to_first_max(dy, cache, y, geometry)))


def real_cell_count(geometry, dtype):
    """(OH, OW, 1) count of unpadded cells in each window: average pooling of ones, before dividing."""
    ones = geometry.pad(np.ones((1, *geometry.in_hw, 1), dtype=dtype))
    if ones.shape[1:3] == geometry.in_hw:
        return np.asarray(geometry.kernel[0] * geometry.kernel[1], dtype=dtype)
    return sum(geometry.tap(ones, i, j) for i, j in geometry.taps())[0]


def avg_pool2d_forward(x, geometry):
    """Return y (C, OH, OW, N): the mean of the real cells of each window."""
    xp = geometry.pad(x)
    total = sum(geometry.tap(xp, i, j) for i, j in geometry.taps())
    return total / real_cell_count(geometry, x.dtype)


def avg_pool2d_backward(dy, geometry):
    """Each cell of a window gets the window's gradient divided by the window's real cell count."""
    share = dy / real_cell_count(geometry, dy.dtype)
    windows = np.broadcast_to(share, (*geometry.kernel, *share.shape))
    return geometry.scatter(windows)
