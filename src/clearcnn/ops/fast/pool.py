"""Max pooling, fast: the compiled kernels record each window's winning tap in one pass, and the gradient goes
straight there; batches too short to vectorise over run the reference. Average pooling is the reference's."""
import functools

import numpy as np

from ..reference import pool as reference
from . import compiled
from .parallel import run_over_channels
from .workspace import scratch

avg_pool2d_forward, avg_pool2d_backward = reference.avg_pool2d_forward, reference.avg_pool2d_backward

tap_offsets = functools.lru_cache(maxsize=256)(lambda geometry: geometry.tap_offsets())


def max_pool2d_forward(x, geometry):
    """reference.max_pool2d_forward's y, and for backward the winning taps (or the reference's cache)."""
    kernels = compiled.kernels(x.shape[3])
    if kernels is None:
        y, cache = reference.max_pool2d_forward(x, geometry)
        return y, (None, cache)
    # Only the winners are kept for backward, so the padded copy is scratch.
    padded = scratch().get("padded", (x.shape[0], *geometry.padded_hw, x.shape[3]), x.dtype)
    xp = geometry.pad(x, value=-np.inf, out=padded)
    y = np.empty((x.shape[0], *geometry.out_hw, x.shape[3]), x.dtype)
    winner = np.empty(y.shape, np.int32)
    rows, cols = tap_offsets(geometry)
    run_over_channels(lambda start, stop: kernels.pool.max_pool(xp, rows, cols, geometry.strides, y, winner,
                                                                start, stop), y, passes=rows.size)
    return y, (kernels, winner)


def max_pool2d_backward(dy, cache, y, geometry):
    """Each window's gradient goes to its first maximum in row-major order, even when cells tie."""
    kernels, state = cache
    if kernels is None:
        return reference.max_pool2d_backward(dy, state, y, geometry)
    shape = (dy.shape[0], *geometry.padded_hw, dy.shape[3])
    # Without padding the gradient is handed back as it is, so it must not live in the scratch space.
    dxp = scratch().get("padded", shape, dy.dtype) if geometry.is_padded() else np.empty(shape, dy.dtype)
    dy = np.ascontiguousarray(dy)
    rows, cols = tap_offsets(geometry)
    run_over_channels(lambda start, stop: kernels.pool.max_pool_adjoint(dy, state, rows, cols, geometry.strides,
                                                                        dxp, start, stop), dxp, passes=rows.size)
    return np.ascontiguousarray(geometry.unpad(dxp))
