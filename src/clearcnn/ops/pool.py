"""Max and average pooling on (C, H, W, N), through the same window taps as convolution.

Max pooling pads with -inf, so padded cells never win; its gradient goes to exactly one position
per window, the first maximum in row-major order, even when several cells tie.
Average pooling divides each window by the number of real (unpadded) cells it holds, as Keras does
for padding="same".
"""
import numpy as np


def max_pool2d_forward(x, geometry):
    """Return y (C, OH, OW, N) and the padded input, kept for the backward pass."""
    xp = geometry.pad(x, value=-np.inf)
    y = None
    for i, j in geometry.taps():
        window_tap = geometry.tap(xp, i, j)
        y = window_tap.copy() if y is None else np.maximum(y, window_tap, out=y)
    return y, xp


def max_pool2d_backward(dy, xp, y, geometry):
    """Send each window's gradient to its first maximum.

    `remaining` holds the gradient not yet handed out: the first tap equal to the maximum takes all of
    it, and later ties find nothing left. Four passes per tap, and no boolean bookkeeping.
    """
    dxp = np.zeros_like(xp)
    remaining = dy.copy()
    hit = np.empty(y.shape, dtype=bool)
    share = np.empty_like(dy)
    for i, j in geometry.taps():
        np.equal(geometry.tap(xp, i, j), y, out=hit)
        np.multiply(remaining, hit, out=share)
        target = geometry.tap(dxp, i, j)
        target += share
        remaining -= share
    return np.ascontiguousarray(geometry.unpad(dxp))


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
