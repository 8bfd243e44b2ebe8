"""Inverted dropout: kept units are scaled by 1 / (1 - rate) during training, so inference is the identity."""


def dropout_forward(x, rate, rng):
    """Return y and the mask (already scaled), kept for the backward pass."""
    keep = rng.random(x.shape, dtype=x.dtype) >= rate
    mask = keep.astype(x.dtype) / x.dtype.type(1 - rate)
    return x * mask, mask


def dropout_backward(dy, mask):
    return dy * mask
