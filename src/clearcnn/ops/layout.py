"""Conversion between the public layout (batch first, channels last, as Keras) and the internal one.

Internal = public with the first and last axes swapped: (N, H, W, C) <-> (C, H, W, N) for images,
(N, F) <-> (F, N) for vectors. The swap is its own inverse, so one function serves both directions.
"""
import numpy as np


def swap_batch_axis(x):
    """Public <-> internal layout, as a contiguous copy."""
    return np.ascontiguousarray(np.swapaxes(x, 0, -1))
