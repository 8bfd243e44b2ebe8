"""Batch normalisation on the batch-innermost layout: the channel (or feature) axis comes first, (C, H, W, N)
or (F, N), and the statistics of a channel are taken over every other axis, M = H * W * N numbers.

    y = (x - mean) / sqrt(variance + epsilon) * gamma + beta

In training mode mean and variance are the batch's own, the variance biased (divided by M, as Keras does);
in inference mode they are the moving statistics. gamma None stands for 1 (scale=False), beta None for 0
(center=False).
"""
import numpy as np


def _per_channel(x):
    """x as (C, M): a view, since the channel axis is the outermost."""
    return x.reshape(x.shape[0], -1)


def _column(v, ndim):
    """A per-channel vector shaped to broadcast against a (C, ...) array of `ndim` axes."""
    return v.reshape(-1, *(1,) * (ndim - 1))


def batch_norm_forward(x, gamma, beta, epsilon, statistics=None):
    """Return y, the (mean, variance) that normalised x, and what batch_norm_backward needs.

    statistics None: training mode, the batch's own mean and biased variance (returned for the moving
    averages). Otherwise (mean, variance): inference mode, with those.
    """
    dtype = x.dtype
    batch_mode = statistics is None
    if batch_mode:
        flat = _per_channel(x)
        mean = flat.mean(axis=1)
        centred = x - _column(mean, x.ndim)
        variance = np.square(_per_channel(centred)).mean(axis=1)
    else:
        mean, variance = (np.asarray(s, dtype) for s in statistics)
        centred = None  # computed by backward if it is ever called
    inv_std = (1 / np.sqrt(variance + dtype.type(epsilon))).astype(dtype, copy=False)
    scale = inv_std if gamma is None else inv_std * gamma
    shift = -mean * scale if beta is None else beta - mean * scale
    # y = x * scale + shift: one multiply and one add per number, the statistics folded into them
    y = x * _column(scale, x.ndim) + _column(shift, x.ndim)
    cache = (x, centred, mean, inv_std, gamma, batch_mode)
    return y, (mean, variance), cache


def batch_norm_backward(dy, cache, input_grad=True):
    """Return dx (None unless input_grad), dgamma and dbeta (both always computed; the layer keeps the
    gradients of the weights it has).

    With x_hat = (x - mean) * inv_std:  dbeta = sum(dy), dgamma = sum(dy * x_hat) over each channel.
    Inference mode: mean and variance are constants, dx = dy * gamma * inv_std.
    Training mode: they depend on x too, and
        dx = gamma * inv_std * (dy - mean(dy) - x_hat * mean(dy * x_hat)).
    """
    x, centred, mean, inv_std, gamma, batch_mode = cache
    if centred is None:
        centred = x - _column(mean, x.ndim)
    x_hat = centred * _column(inv_std, x.ndim)
    dbeta = _per_channel(dy).sum(axis=1)
    dgamma = _per_channel(dy * x_hat).sum(axis=1)
    if not input_grad:
        return None, dgamma, dbeta
    g = inv_std if gamma is None else inv_std * gamma
    if not batch_mode:
        return dy * _column(g, dy.ndim), dgamma, dbeta
    count = dy.dtype.type(_per_channel(dy).shape[1])
    dx = (dy - _column(dbeta / count, dy.ndim) - x_hat * _column(dgamma / count, dy.ndim)) * _column(g, dy.ndim)
    return dx, dgamma, dbeta


def moving_average(moving, batch_value, momentum):
    """Keras's update of a moving statistic: moving * momentum + batch_value * (1 - momentum), as a new array
    (the old one may still be read by a thread that is predicting)."""
    momentum = moving.dtype.type(momentum)
    return moving * momentum + batch_value.astype(moving.dtype, copy=False) * (1 - momentum)
