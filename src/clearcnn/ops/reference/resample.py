"""Resampling images on the (C, H, W, N) layout: affine transforms (rotation, zoom, translation) and resizing.

Both are linear in the pixels, so backward is the transpose of forward: each output pixel is a weighted sum of
input pixels, and its gradient goes back to those pixels with the same weights.

Affine: every image of the batch has its own matrix (clearcnn.ops.transforms), applied in one gather over the
whole batch. An output pixel reads the input point its matrix gives, by "nearest" (the closest pixel, ties to
even as Keras does) or "bilinear" (the four around it) interpolation. Pixels outside the image are read
through `fill_mode`, as in Keras 3:
    reflect  (d c b a | a b c d | d c b a)    wrap     (a b c d | a b c d | a b c d)
    nearest  (a a a a | a b c d | d d d d)    constant (k k k k | a b c d | k k k k), k = fill_value

Resize: separable, one weight matrix per axis (out, in), so a resize is two matrix products. Keras 3's rule
(half-pixel centres): output pixel o reads input position (o + 0.5) * in / out - 0.5; "bilinear" weighs the
pixels within one pixel of it by a triangle, renormalised at the borders; `antialias` widens the triangle by
in / out when shrinking; "nearest" takes pixel floor((o + 0.5) * in / out).
"""
import numpy as np

# --- affine ----------------------------------------------------------------------------------------

def _fix_index(index, size, fill_mode):
    """Indices outside [0, size) mapped back inside by the fill mode; "constant" clips (the caller masks)."""
    if fill_mode == "wrap":
        return np.mod(index, size)
    if fill_mode == "reflect":
        index = np.mod(index, 2 * size)
        return np.where(index < size, index, 2 * size - 1 - index)
    return np.clip(index, 0, size - 1)


def _axis_taps(coordinate, size, interpolation, fill_mode):
    """[(index, weight, inside)] along one axis, (H, W, N) arrays: the pixels read at `coordinate`, their
    indices already mapped inside by the fill mode, and whether each was inside the image."""
    if interpolation == "nearest":
        taps = [(np.rint(coordinate).astype(np.int64), np.ones_like(coordinate))]
    else:
        low = np.floor(coordinate)
        fraction = coordinate - low
        low = low.astype(np.int64)
        taps = [(low, 1 - fraction), (low + 1, fraction)]
    return [(_fix_index(index, size, fill_mode), weight, (index >= 0) & (index < size)) for index, weight in taps]


def affine_forward(x, matrices, interpolation="bilinear", fill_mode="reflect", fill_value=0.0):
    """x (C, H, W, N) resampled through `matrices` (N, 2, 3) to the same size; returns y and the cache for
    backward: the flat index and weight of every tap."""
    channels, height, width, batch = x.shape
    row, column = np.meshgrid(np.arange(height, dtype=np.float64), np.arange(width, dtype=np.float64), indexing="ij")
    row, column = row[..., None], column[..., None]
    x_in = matrices[:, 0, 0] * column + matrices[:, 0, 1] * row + matrices[:, 0, 2]  # (H, W, N)
    y_in = matrices[:, 1, 0] * column + matrices[:, 1, 1] * row + matrices[:, 1, 2]
    # Flat index into x viewed as (C, H * W * N): (row * W + column) * N + n, split into its row and column parts.
    rows = [(index * (width * batch), weight, inside)
            for index, weight, inside in _axis_taps(y_in, height, interpolation, fill_mode)]
    columns = [(index * batch + np.arange(batch), weight, inside)
               for index, weight, inside in _axis_taps(x_in, width, interpolation, fill_mode)]
    flat_x = x.reshape(channels, -1)
    y = np.zeros_like(x)
    fill = np.zeros((height, width, batch))
    taps = []
    for row_index, row_weight, row_inside in rows:
        for column_index, column_weight, column_inside in columns:
            weight = row_weight * column_weight
            if fill_mode == "constant":
                inside = row_inside & column_inside
                fill += weight * ~inside
                weight *= inside
            flat, weight = row_index + column_index, weight.astype(x.dtype)
            y += np.take(flat_x, flat, axis=1) * weight
            taps.append((flat, weight))
    if fill_mode == "constant" and fill_value != 0:
        y += (fill * fill_value).astype(x.dtype)
    return y, (x.shape, taps)


def affine_backward(dy, cache):
    """The gradient for the input of affine_forward: each tap's weighted dy added back onto the pixel it read."""
    shape, taps = cache
    channels, size = shape[0], int(np.prod(shape[1:]))
    index = np.concatenate([flat.ravel() for flat, _ in taps])
    index = (np.arange(channels)[:, None] * size + index).ravel()
    weighted = np.concatenate([(dy * weight).reshape(channels, -1) for _, weight in taps], axis=1)
    dx = np.bincount(index, weighted.ravel(), minlength=channels * size)
    return dx.astype(dy.dtype).reshape(shape)


# --- resize ----------------------------------------------------------------------------------------

def resize_matrix(in_size, out_size, interpolation="bilinear", antialias=False):
    """The (out_size, in_size) weights of a resize along one axis (Keras 3's scale_and_translate)."""
    if interpolation == "nearest":
        taken = np.floor((np.arange(out_size) + 0.5) * in_size / out_size).astype(np.int64)
        return (taken[:, None] == np.arange(in_size)).astype(np.float64)
    inverse_scale = in_size / out_size
    kernel_scale = max(inverse_scale, 1.0) if antialias else 1.0
    sample = (np.arange(out_size) + 0.5) * inverse_scale - 0.5
    weights = np.maximum(0.0, 1 - np.abs(sample[:, None] - np.arange(in_size)) / kernel_scale)
    total = weights.sum(axis=1, keepdims=True)
    weights = np.where(np.abs(total) > 1000 * np.finfo(np.float32).eps, weights / np.where(total != 0, total, 1), 0)
    return np.where(((sample >= -0.5) & (sample <= in_size - 0.5))[:, None], weights, 0.0)


def resize_forward(x, out_hw, interpolation="bilinear", antialias=False, crop=None, pad=(0, 0), fill_value=0.0):
    """x (C, H, W, N) -> (C, OH, OW, N): first cropped to `crop` = (top, left, height, width) if given, then padded
    with `fill_value` by `pad` = (rows, columns) on each side, then resized. Returns y and the cache."""
    channels, height, width, batch = x.shape
    top, left, crop_height, crop_width = crop or (0, 0, height, width)
    h = x[:, top:top + crop_height, left:left + crop_width, :]
    if pad != (0, 0):
        h = np.pad(h, ((0, 0), (pad[0], pad[0]), (pad[1], pad[1]), (0, 0)), constant_values=fill_value)
    rows = resize_matrix(h.shape[1], out_hw[0], interpolation, antialias).astype(x.dtype)
    columns = resize_matrix(h.shape[2], out_hw[1], interpolation, antialias).astype(x.dtype)
    h = rows @ np.ascontiguousarray(h).reshape(channels, h.shape[1], -1)  # (C, OH, W' * N)
    y = columns @ h.reshape(channels * out_hw[0], -1, batch)  # (C * OH, OW, N)
    return y.reshape(channels, *out_hw, batch), (x.shape, (top, left, crop_height, crop_width), pad, rows, columns)


def resize_backward(dy, cache):
    """The gradient for the input of resize_forward: the transposed weights, then the padding dropped and the
    crop placed back into zeros."""
    shape, (top, left, crop_height, crop_width), pad, rows, columns = cache
    channels, out_height, out_width, batch = dy.shape
    h = columns.T @ dy.reshape(channels * out_height, out_width, batch)  # (C * OH, W', N)
    h = rows.T @ h.reshape(channels, out_height, -1)  # (C, H', W' * N)
    h = h.reshape(channels, rows.shape[1], columns.shape[1], batch)
    h = h[:, pad[0]:h.shape[1] - pad[0], pad[1]:h.shape[2] - pad[1], :]
    if (crop_height, crop_width) == tuple(shape[1:3]):
        return np.ascontiguousarray(h)
    dx = np.zeros(shape, dy.dtype)
    dx[:, top:top + crop_height, left:left + crop_width, :] = h
    return dx
