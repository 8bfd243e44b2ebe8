"""Max and average pooling on (C, H, W, N), through the same window taps as convolution.

Max pooling pads with -inf, so padded cells never win; its gradient goes to exactly one position
per window, the first maximum in row-major order, even when several cells tie.
Average pooling divides each window by the number of real (unpadded) cells it holds, as Keras does
for padding="same".
"""
import functools

import numpy as np

from . import backend
from .parallel import run_over_channels
from .windows import Geometry
from .workspace import scratch


@functools.lru_cache(maxsize=256)  # a Geometry is immutable; building the stages costs more than using them
def separable_stages(geometry):
    """Two 1-D geometries, across then down, whose composition is this max pool, or None when the
    window is too small to gain from it. A kh x kw max is a max over kw columns, then over kh rows:
    kh + kw passes instead of kh * kw, and ties still go to the first maximum in row-major order (the
    first row holding the maximum, then the first column in that row)."""
    (kh, kw), (sh, sw), (dh, dw) = geometry.kernel, geometry.strides, geometry.dilation
    if kh * kw <= kh + kw + 1:
        return None
    hp, wp = geometry.padded_hw
    across = Geometry.of((hp, wp), (1, kw), (1, sw), (1, dw))
    down = Geometry.of((hp, across.out_hw[1]), (kh, 1), (sh, 1), (dh, 1))
    return across, down


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
    """Return y (C, OH, OW, N) and what the backward pass needs: the winning taps when compiled kernels
    run it, else the padded input and, for large windows, the column maxima."""
    compiled = backend.compiled(x.shape[3])
    # The compiled pass keeps only the winners for backward, so its padded copy is scratch; NumPy's keeps it.
    padded = scratch().get("padded", (x.shape[0], *geometry.padded_hw, x.shape[3]), x.dtype) if compiled else None
    xp = geometry.pad(x, value=-np.inf, out=padded)
    if compiled:
        y = np.empty((x.shape[0], *geometry.out_hw, x.shape[3]), x.dtype)
        winner = np.empty(y.shape, np.int32)
        run_over_channels(lambda start, stop: compiled.max_pool(xp, geometry.kernel, geometry.strides,
                                                                geometry.dilation, y, winner, start, stop), y,
                          passes=len(geometry.taps()))
        return y, ("winner", winner)
    stages = separable_stages(geometry)
    if stages is None:
        return _max_over_taps(xp, geometry), ("taps", xp)
    across, down = stages
    column_max = _max_over_taps(xp, across)
    return _max_over_taps(column_max, down), ("separable", xp, column_max)


def max_pool2d_backward(dy, cache, y, geometry):
    """Each window's gradient goes to its first maximum in row-major order, even when cells tie."""
    kind, *state = cache
    if kind == "winner":
        shape = (dy.shape[0], *geometry.padded_hw, dy.shape[3])
        # Without padding the gradient is handed back as it is, so it must not live in the scratch space.
        dxp = scratch().get("padded", shape, dy.dtype) if geometry.is_padded() else np.empty(shape, dy.dtype)
        dy = np.ascontiguousarray(dy)
        run_over_channels(lambda start, stop: backend.compiled().max_pool_adjoint(
            dy, state[0], geometry.kernel, geometry.strides, geometry.dilation, dxp, start, stop), dxp,
            passes=len(geometry.taps()))
    elif kind == "taps":
        dxp = _to_first_max(dy, state[0], y, geometry)
    else:
        (xp, column_max), (across, down) = state, separable_stages(geometry)
        dxp = _to_first_max(_to_first_max(dy, column_max, y, down), xp, column_max, across)
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
