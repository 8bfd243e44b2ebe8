"""Exact image operations on the (C, H, W, N) layout, forward and backward: flips, crops, contrast and brightness.

Each acts on a whole batch at once, with per-image choices as (N,) arrays broadcast along the batch axis.
"""
import numpy as np


def flip_forward(x, horizontal, vertical):
    """Images with `horizontal` (N,) True mirrored left-right, those with `vertical` (N,) True upside down.
    A flip is its own inverse, so flip_forward is also its own backward."""
    if horizontal is not None and horizontal.any():
        x = np.where(horizontal, x[:, :, ::-1, :], x)
    if vertical is not None and vertical.any():
        x = np.where(vertical, x[:, ::-1, :, :], x)
    return x


def crop_forward(x, top, left, height, width):
    """The window of height x width pixels from (top, left) of every image."""
    return np.ascontiguousarray(x[:, top:top + height, left:left + width, :])


def crop_backward(dy, shape, top, left):
    """The gradient for crop_forward's input (of `shape`): dy inside the window, zeros outside."""
    dx = np.zeros(shape, dy.dtype)
    dx[:, top:top + dy.shape[1], left:left + dy.shape[2], :] = dy
    return dx


def contrast_forward(x, factors, value_range):
    """y = clip((x - mean) * factor + mean, low, high), the mean over each image's pixels per channel, one
    factor (N,) per image. Returns y and the cache for backward."""
    mean = x.mean(axis=(1, 2), keepdims=True)
    factors = factors.astype(x.dtype)
    y = (x - mean) * factors + mean
    clipped = np.clip(y, *value_range)
    return clipped, (factors, (y >= value_range[0]) & (y <= value_range[1]))


def contrast_backward(dy, cache):
    factors, inside = cache
    g = dy * inside
    mean = g.mean(axis=(1, 2), keepdims=True)
    return (g - mean) * factors + mean


def brightness_forward(x, deltas, value_range):
    """y = clip(x + delta, low, high), one delta (N,) per image. Returns y and the cache for backward."""
    y = x + deltas.astype(x.dtype)
    return np.clip(y, *value_range), (y >= value_range[0]) & (y <= value_range[1])


def brightness_backward(dy, inside):
    return dy * inside
