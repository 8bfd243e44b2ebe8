"""The arithmetic of one output value, step by step, as a textbook lays it out.

For a conv cell: for each input channel, each kernel column's products and their sum
(`3x1 + 5x1 + 5x1 = 13`), then the channel's total (`13 + 0 + 11 = 24`); then the sum over channels,
the bias, the activation and the result. For a pooling cell: the window and the value chosen (max, with
its position) or the mean. The numbers are recomputed here with plain Python loops, independently of the
engine, so an explanation is also a check of the forward pass. The other layer kinds are in cells.py.

Every explanation ends with the line `  result = VALUE`.
"""
from dataclasses import dataclass

import numpy as np

from ..errors import ClearCNNError, real_array
from ..layers import MaxPooling2D


def number(value):
    """Integers without a decimal point, others with up to 4 significant decimals."""
    value = float(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4g}"


def factor(value):
    """A number as a factor: negatives in parentheses, `3x(-1)`."""
    text = number(value)
    return f"({text})" if text.startswith("-") else text


def total_of(values):
    """`a + b - c`: a sum written with its signs."""
    texts = [number(v) for v in values]
    out = texts[0]
    for text in texts[1:]:
        out += f" - {text[1:]}" if text.startswith("-") else f" + {text}"
    return out


@dataclass
class Explanation:
    value: float
    lines: list

    @property
    def text(self):
        return "\n".join(self.lines)

    def __str__(self):
        return self.text


def activation_step(activation, total, lines):
    """The activation of one pre-activation value, as a line unless it is linear; returns the value."""
    value = float(activation.forward(np.array([[total]]))[0, 0])
    if activation.name != "linear":
        lines.append(f"  {activation.name}({number(total)}) = {number(value)}")
    return value


def _check_cell(layer, image, row, col, channel, channels, what):
    out_h, out_w = layer.geometry(image.shape[:2]).out_hw
    for name, value, limit in (("row", row, out_h), ("col", col, out_w), (what, channel, channels)):
        if not isinstance(value, (int, np.integer)) or not 0 <= value < limit:
            raise ClearCNNError(f"explain: argument `{name}` must be an integer in [0, {limit}) for {layer.where} "
                                f"with output {out_h}x{out_w}x{channels}; received {name}={value!r}.")


def _image(image):
    """One (H, W, C) image of real numbers as float64, or ClearCNNError."""
    image = real_array(image, "explain", "argument `image`")
    if image.ndim != 3:
        raise ClearCNNError(f"explain: argument `image` must be one (height, width, channels) image; received an "
                            f"array of shape {image.shape}.")
    return image.astype(np.float64)


def _window(layer, image, row, col):
    """The padded window (kh, kw, C) under output cell (row, col), and the input coordinates of each tap."""
    geometry = layer.geometry(image.shape[:2])
    (top, _), (left, _) = geometry.pads
    (sh, sw), (dh, dw), (kh, kw) = geometry.strides, geometry.dilation, geometry.kernel
    cells, positions = [], []
    for i in range(kh):
        for j in range(kw):
            y, x = row * sh + i * dh - top, col * sw + j * dw - left
            inside = 0 <= y < image.shape[0] and 0 <= x < image.shape[1]
            cells.append(image[y, x] if inside else None)
            positions.append((y, x))
    return cells, positions, (kh, kw)


def explain_conv(layer, image, row, col, filter_index=0):
    """Explain output cell (row, col, filter) of a built Conv2D for one (H, W, C) input image."""
    image = _image(image)
    if not layer.built or layer.kernel.shape[2] != image.shape[2]:
        raise ClearCNNError(f"explain: {layer.where} must be built for images with the channels of `image`; "
                            f"received an image of shape {image.shape} for a layer built for "
                            f"{layer.input_shape if layer.built else 'no input yet'}.")
    kernel = layer.kernel.value.astype(np.float64)
    _check_cell(layer, image, row, col, filter_index, layer.filters, "filter_index")
    cells, positions, (kh, kw) = _window(layer, image, row, col)
    lines = [f"{layer.name} (Conv2D), output row {row}, column {col}, filter {filter_index}:"]
    channel_totals = []
    for c in range(image.shape[2]):
        if image.shape[2] > 1:
            lines.append(f"  channel {c}:")
        column_sums = []
        for j in range(kw):
            terms, total = [], 0.0
            for i in range(kh):
                cell = cells[i * kw + j]
                pixel = 0.0 if cell is None else cell[c]  # a padded pixel is 0
                weight = kernel[i, j, c, filter_index]
                terms.append(f"{factor(pixel)}x{factor(weight)}")
                total += pixel * weight
            column_sums.append(total)
            lines.append(f"    kernel column {j}: {' + '.join(terms)} = {number(total)}")
        channel_totals.append(sum(column_sums))
        lines.append(f"    sum: {total_of(column_sums)} = {number(channel_totals[-1])}")
    total = sum(channel_totals)
    if len(channel_totals) > 1:
        lines.append(f"  over the {len(channel_totals)} channels: "
                     f"{total_of(channel_totals)} = {number(total)}")
    if layer.use_bias:
        bias = float(layer.bias.value[filter_index])
        lines.append(f"  plus bias: {total_of([total, bias])} = {number(total + bias)}")
        total += bias
    value = activation_step(layer.activation, total, lines)
    lines.append(f"  result = {number(value)}")
    return Explanation(value, lines)


def explain_pool(layer, image, row, col, channel=0):
    """Explain output cell (row, col, channel) of a built pooling layer for one (H, W, C) input image."""
    image = _image(image)
    _check_cell(layer, image, row, col, channel, image.shape[2], "channel")
    cells, positions, (kh, kw) = _window(layer, image, row, col)
    lines = [f"{layer.name} ({type(layer).__name__}), output row {row}, column {col}, channel {channel}:",
             "  window:"]
    for i in range(kh):
        lines.append("    " + "  ".join("pad" if cells[i * kw + j] is None else number(cells[i * kw + j][channel])
                                        for j in range(kw)))
    real = [(cell[channel], pos) for cell, pos in zip(cells, positions) if cell is not None]
    if isinstance(layer, MaxPooling2D):
        best, where = real[0]
        for value, pos in real[1:]:  # the first maximum wins, as in the engine's backward pass
            if value > best:
                best, where = value, pos
        lines.append(f"  max = {number(best)}, at input row {where[0]}, column {where[1]}")
        value = best
    else:
        value = sum(v for v, _ in real) / len(real)
        lines.append(f"  mean = ({total_of([v for v, _ in real])}) / {len(real)} = {number(value)}")
    lines.append(f"  result = {number(value)}")
    return Explanation(float(value), lines)
