"""Max pooling, fast: the compiled kernels record each window's winning tap in one pass, and the gradient goes
straight there; an innermost axis (the batch, or the channels) too short to vectorise over runs the reference.
Average pooling is the reference's."""
import functools

import numpy as np

from ..reference import pool as reference
from . import compiled
from .parallel import run_over_channels
from .workspace import scratch

avg_pool2d_forward, avg_pool2d_backward = reference.avg_pool2d_forward, reference.avg_pool2d_backward

tap_offsets = functools.lru_cache(maxsize=256)(lambda geometry: geometry.tap_offsets())


def channels_innermost(x):
    """Whether x is a (C, H, W, N) view of a contiguous (N, H, W, C) array, as channels-innermost Winograd hands
    on its results. Max pooling then runs on that array as it lies: the kernels pool over the middle two axes,
    split the first over the threads and vectorise over the last, whichever of N and C each is."""
    return not x.flags.c_contiguous and np.swapaxes(x, 0, -1).flags.c_contiguous


def max_pool2d_forward(x, geometry):
    """reference.max_pool2d_forward's y, and for backward the winning taps (or the reference's cache). A
    channels-innermost x gives a channels-innermost y."""
    swapped = channels_innermost(x)
    stored = np.swapaxes(x, 0, -1) if swapped else x
    kernels = compiled.kernels(stored.shape[3])
    if kernels is None:
        y, cache = reference.max_pool2d_forward(x, geometry)
        return y, (None, cache, False)
    # Only the winners are kept for backward, so the padded copy is scratch.
    padded = scratch().get("padded", (stored.shape[0], *geometry.padded_hw, stored.shape[3]), x.dtype)
    xp = np.ascontiguousarray(geometry.pad(stored, value=-np.inf, out=padded))  # as the kernels read it
    y = np.empty((stored.shape[0], *geometry.out_hw, stored.shape[3]), x.dtype)
    winner = np.empty(y.shape, np.int32)
    rows, cols = tap_offsets(geometry)
    run_over_channels(lambda start, stop: kernels.pool.max_pool(xp, rows, cols, geometry.strides, y, winner,
                                                                start, stop), y, passes=rows.size)
    return (np.swapaxes(y, 0, -1) if swapped else y), (kernels, winner, swapped)


def max_pool2d_backward(dy, cache, y, geometry):
    """Each window's gradient goes to its first maximum in row-major order, even when cells tie. The gradient
    lies as forward's input did."""
    kernels, state, swapped = cache
    if kernels is None:
        return reference.max_pool2d_backward(dy, state, y, geometry)
    dy = np.ascontiguousarray(np.swapaxes(dy, 0, -1) if swapped else dy)
    shape = (dy.shape[0], *geometry.padded_hw, dy.shape[3])
    # Without padding the gradient is handed back as it is, so it must not live in the scratch space.
    dxp = scratch().get("padded", shape, dy.dtype) if geometry.is_padded() else np.empty(shape, dy.dtype)
    rows, cols = tap_offsets(geometry)
    run_over_channels(lambda start, stop: kernels.pool.max_pool_adjoint(dy, state, rows, cols, geometry.strides,
                                                                        dxp, start, stop), dxp, passes=rows.size)
    dx = np.ascontiguousarray(geometry.unpad(dxp))
    return np.swapaxes(dx, 0, -1) if swapped else dx
