"""Batch normalisation, fast: the compiled kernels (jit/normalization.py) take each channel's contiguous row in
one or two passes, split over the engine's threads by channel; without them the reference runs. The results are
the reference's, and so is the cache, so either backward pass can follow either forward pass."""
import numpy as np

from ..reference import normalization as reference
from . import compiled
from .parallel import run_over_channels


def _rows(a):
    """(C, ...) as a contiguous (C, M)."""
    return np.ascontiguousarray(a).reshape(a.shape[0], -1)


def batch_norm_forward(x, gamma, beta, epsilon, statistics=None):
    """reference.batch_norm_forward's y, statistics and cache."""
    kernels = compiled.kernels(x.shape[-1])
    if kernels is None:
        return reference.batch_norm_forward(x, gamma, beta, epsilon, statistics)
    dtype, rows = x.dtype, _rows(x)
    batch_mode = statistics is None
    if batch_mode:
        mean, variance = np.empty(len(rows)), np.empty(len(rows))
        run_over_channels(lambda start, stop: kernels.normalization.moments(rows, mean, variance, start, stop),
                          rows, passes=2)
        mean, variance = mean.astype(dtype), variance.astype(dtype)
    else:
        mean, variance = (np.asarray(s, dtype) for s in statistics)
    inv_std = (1 / np.sqrt(variance + dtype.type(epsilon))).astype(dtype, copy=False)
    scale = inv_std if gamma is None else inv_std * gamma
    shift = -mean * scale if beta is None else beta - mean * scale
    y = np.empty_like(rows)
    run_over_channels(lambda start, stop: kernels.normalization.scale_shift(rows, scale, shift, y, start, stop), rows)
    return y.reshape(x.shape), (mean, variance), (x, None, mean, inv_std, gamma, batch_mode)


def batch_norm_backward(dy, cache, input_grad=True):
    """reference.batch_norm_backward's dx, dgamma and dbeta."""
    kernels = compiled.kernels(dy.shape[-1])
    if kernels is None:
        return reference.batch_norm_backward(dy, cache, input_grad)
    x, _, mean, inv_std, gamma, batch_mode = cache
    rows, grads = _rows(x), _rows(dy)
    sums = np.empty(len(rows)), np.empty(len(rows))  # dgamma, dbeta, accumulated in float64
    run_over_channels(lambda start, stop: kernels.normalization.gradient_sums(grads, rows, mean, inv_std, *sums,
                                                                              start, stop), rows, passes=2)
    dgamma, dbeta = (s.astype(dy.dtype) for s in sums)
    if not input_grad:
        return None, dgamma, dbeta
    gain = inv_std if gamma is None else inv_std * gamma
    if not batch_mode:
        return dy * gain.reshape(-1, *(1,) * (dy.ndim - 1)), dgamma, dbeta
    dx = np.empty_like(grads)
    run_over_channels(lambda start, stop: kernels.normalization.batch_input_gradient(
        grads, rows, mean, inv_std, gain, *sums, dx, start, stop), rows, passes=3)
    return dx.reshape(dy.shape), dgamma, dbeta
