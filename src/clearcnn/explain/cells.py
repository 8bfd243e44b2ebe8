"""The arithmetic of one output value of any layer kind, and `explain`, which finds a layer's input in a model.

Each layer kind has one small explainer `(layer, x, row, col, index) -> Explanation`, where `x` is the layer's
input for one sample without the batch axis. Image outputs (H, W, C) are addressed by row, column and channel
(the filter, for Conv2D); vector outputs (units,) by the unit in `index`, with row and column 0. The HTML
explorer (explorer.js) writes the same lines from the same numbers; its tests hold the two texts equal.
"""
import math

import numpy as np

from ..errors import ClearCNNError, real_array
from ..layers import (
    Activation,
    AveragePooling2D,
    BatchNormalization,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    Layer,
    MaxPooling2D,
    RandomBrightness,
    RandomContrast,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
    Rescaling,
)
from .arithmetic import Explanation, activation_step, explain_conv, explain_pool, factor, number, total_of

TOP_TERMS = 10  # a Dense unit lists its largest products one by one and adds the others up in one line


def heading(layer, shape, row, col, index):
    kind = type(layer).__name__
    if len(shape) == 1:
        return f"{layer.name} ({kind}), unit {index}:"
    return f"{layer.name} ({kind}), output row {row}, column {col}, channel {index}:"


def check_cell(layer, shape, row, col, index, what="channel"):
    """A cell of output `shape` (no batch axis): (row, col, index) of an image, (0, 0, unit) of a vector."""
    limits = (1, 1, shape[0]) if len(shape) == 1 else shape
    shown = "x".join(map(str, shape))
    for name, value, limit in (("row", row, limits[0]), ("col", col, limits[1]), (what, index, limits[2])):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < limit:
            raise ClearCNNError(f"explain: argument `{name}` must be an integer in [0, {limit}) for {layer.where} "
                                f"with output {shown}; received {name}={value!r}.")


def cell_of(x, row, col, index):
    return float(x[index] if x.ndim == 1 else x[row, col, index])


def softmax_step(values, index, what, lines):
    """Softmax of `values[index]` over all `values` (a Dense layer's units, or one pixel's channels)."""
    largest = max(values)
    total = sum(math.exp(v - largest) for v in values)  # subtracting the largest keeps exp finite
    value = math.exp(values[index] - largest) / total
    lines.append(f"  softmax over the {len(values)} {what}: the largest is {number(largest)}, "
                 f"the sum of exp(value - largest) over them is {number(total)}")
    lines.append(f"  exp({total_of([values[index], -largest])}) / {number(total)} = {number(value)}")
    return value


def dense_terms(x, kernel, count=TOP_TERMS):
    """For every unit of a Dense layer: the indices of the `count` products x[i] * kernel[i, unit] largest in
    size (largest first, ties by index), the sum of the other products and the sum of all of them.

    The sums are math.fsum, exact before one rounding, so they do not depend on the order of addition."""
    products = np.asarray(x, np.float64)[:, None] * np.asarray(kernel, np.float64)
    top = np.argsort(-np.abs(products), axis=0, kind="stable")[:count]
    left_out = np.ones(products.shape, bool)
    np.put_along_axis(left_out, top, False, axis=0)
    rests = np.array([math.fsum(column[keep]) for column, keep in zip(products.T, left_out.T)])
    totals = np.array([math.fsum(column) for column in products.T.tolist()])
    return top, rests, totals


def explain_dense(layer, x, row, col, unit):
    """y = activation(sum of x[i] * kernel[i, unit] + bias): the largest products first, the rest as one sum."""
    x = np.asarray(x, np.float64)
    check_cell(layer, (layer.units,), row, col, unit, "unit")
    kernel = layer.kernel.value
    top, rests, totals = dense_terms(x, kernel)
    lines = [heading(layer, (layer.units,), row, col, unit),
             f"  products input x weight, largest first ({len(top)} of {len(x)}):"]
    terms = []
    for i in top[:, unit]:
        weight = float(kernel[i, unit])
        terms.append(float(x[i]) * weight)
        lines.append(f"    input {i}: {factor(x[i])}x{factor(weight)} = {number(terms[-1])}")
    if len(x) > len(top):
        terms.append(float(rests[unit]))
        lines.append(f"  the other {len(x) - len(top)} products add up to {number(rests[unit])}")
    total = float(totals[unit])
    lines.append(f"  sum: {total_of(terms)} = {number(total)}")
    biases = layer.bias.value if layer.use_bias else np.zeros(layer.units)
    if layer.use_bias:
        lines.append(f"  plus bias: {total_of([total, float(biases[unit])])} = {number(total + float(biases[unit]))}")
    if layer.activation.name == "softmax":
        value = softmax_step([float(t) + float(b) for t, b in zip(totals, biases)], unit, "units", lines)
    else:
        value = activation_step(layer.activation, total + float(biases[unit]), lines)
    lines.append(f"  result = {number(value)}")
    return Explanation(value, lines)


def explain_flatten(layer, x, row, col, unit):
    """Flatten moves values without changing them: unit = (row x width + column) x channels + channel."""
    check_cell(layer, (x.size,), row, col, unit, "unit")
    lines = [heading(layer, (x.size,), row, col, unit)]
    if x.ndim == 3:
        _, width, channels = x.shape
        r, c, ch = np.unravel_index(unit, x.shape)
        lines.append(f"  input row {r}, column {c}, channel {ch}: ({r} x {width} + {c}) x {channels} + {ch} = {unit}")
    value = float(x.reshape(-1)[unit])
    lines.append(f"  result = {number(value)}")
    return Explanation(value, lines)


def explain_identity(layer, x, row, col, index):
    """Dropout, the random augmentation layers and a bare Layer pass their input through at inference."""
    check_cell(layer, x.shape, row, col, index)
    value = cell_of(x, row, col, index)
    return Explanation(value, [heading(layer, x.shape, row, col, index),
                               f"  at inference {type(layer).__name__} passes its input through",
                               f"  result = {number(value)}"])


def explain_rescaling(layer, x, row, col, index):
    """y = x x scale + offset."""
    check_cell(layer, x.shape, row, col, index)
    value = cell_of(x, row, col, index)
    result = value * layer.scale + layer.offset
    return Explanation(result, [heading(layer, x.shape, row, col, index),
                                f"  {factor(value)}x{factor(layer.scale)} + {factor(layer.offset)} = {number(result)}",
                                f"  result = {number(result)}"])


def explain_activation(layer, x, row, col, index):
    """The activation of one value; softmax over the channels of one pixel (or the units of a vector)."""
    check_cell(layer, x.shape, row, col, index)
    lines = [heading(layer, x.shape, row, col, index)]
    if layer.activation.name == "softmax":
        values = [float(v) for v in (x if x.ndim == 1 else x[row, col])]
        value = softmax_step(values, index, "units" if x.ndim == 1 else "channels", lines)
    else:
        value = activation_step(layer.activation, cell_of(x, row, col, index), lines)
    lines.append(f"  result = {number(value)}")
    return Explanation(value, lines)


def explain_batch_norm(layer, x, row, col, index):
    """At inference: y = (x - moving_mean) / sqrt(moving_variance + epsilon) x gamma + beta, for one channel."""
    check_cell(layer, x.shape, row, col, index)
    value = cell_of(x, row, col, index)
    mean, variance = (float(s[index]) for s in layer.statistics())
    lines = [heading(layer, x.shape, row, col, index) if x.ndim > 1 else f"{layer.name} (BatchNormalization), "
             f"feature {index}:",
             f"  at inference, with the moving statistics of {'channel' if x.ndim > 1 else 'feature'} {index}: "
             f"mean = {number(mean)}, variance = {number(variance)}",
             "  y = (x - mean) / sqrt(variance + epsilon)" + " x gamma" * layer.scale + " + beta" * layer.center]
    centred, spread = value - mean, math.sqrt(variance + layer.epsilon)
    lines.append(f"  x - mean = {total_of([value, -mean])} = {number(centred)}")
    lines.append(f"  sqrt(variance + epsilon) = sqrt({total_of([variance, layer.epsilon])}) = {number(spread)}")
    result = centred / spread
    lines.append(f"  (x - mean) / sqrt(variance + epsilon) = {number(centred)} / {number(spread)} = {number(result)}")
    if layer.scale or layer.center:
        gamma = float(layer.gamma.value[index]) if layer.scale else 1.0
        beta = float(layer.beta.value[index]) if layer.center else 0.0
        text = f"{factor(result)}x{factor(gamma)}" if layer.scale else number(result)
        result = result * gamma + beta
        lines.append(f"  {'times gamma' if layer.scale else ''}{', ' if layer.scale and layer.center else ''}"
                     f"{'plus beta' if layer.center else ''}: {text}"
                     f"{' + ' + factor(beta) if layer.center else ''} = {number(result)}")
    lines.append(f"  result = {number(result)}")
    return Explanation(result, lines)


SHOWN_CELLS = 64  # a global pool lists an image's cells one by one up to this many


def explain_global_pool(layer, x, row, col, channel):
    """Global average: the sum of a channel's H x W cells and their count. Global max: the channel's cells (the
    window is the whole image) and the winner, the first maximum in row-major order as in the backward pass."""
    if np.ndim(x) != 3:
        raise ClearCNNError(f"explain: {layer.where} takes (height, width, channels) images; received an input "
                            f"of shape {np.shape(x)}.")
    out_shape = (1, 1, x.shape[2]) if layer.keepdims else (x.shape[2],)
    check_cell(layer, out_shape, row, col, channel)
    cells = x[:, :, channel]
    count = cells.size
    lines = [f"{layer.name} ({type(layer).__name__}), channel {channel}: one window over the whole "
             f"{x.shape[0]}x{x.shape[1]} image"]
    if isinstance(layer, GlobalAveragePooling2D):
        total = math.fsum(cells.ravel().tolist())
        shown = total_of(cells.ravel()) if count <= SHOWN_CELLS else f"the {count:,} cells"
        lines.append(f"  sum = {shown} = {number(total)}")
        value = total / count
        lines.append(f"  mean = {number(total)} / {count:,} = {number(value)}")
    else:
        if count <= SHOWN_CELLS:
            lines += ["  window:"] + ["    " + "  ".join(number(v) for v in cells_row) for cells_row in cells]
        where = np.unravel_index(int(np.argmax(cells)), cells.shape)  # argmax: the first maximum
        value = float(cells[where])
        lines.append(f"  max = {number(value)}, at input row {where[0]}, column {where[1]}")
    lines.append(f"  result = {number(value)}")
    return Explanation(float(value), lines)


def _window_cell(explain_one):
    def explain_window(layer, x, row, col, index):
        if np.ndim(x) != 3:
            raise ClearCNNError(f"explain: {layer.where} takes (height, width, channels) images; received an input "
                                f"of shape {np.shape(x)}.")
        return explain_one(layer, x, row, col, index)
    return explain_window


# The augmentation layers that are the identity at inference (Resizing, CenterCrop and RandomCrop are not).
PASSED_THROUGH = (RandomFlip, RandomRotation, RandomZoom, RandomTranslation, RandomContrast, RandomBrightness)

# The explainer of each layer kind (the exact class: a subclass may compute something else).
EXPLAINERS = {Conv2D: _window_cell(explain_conv), MaxPooling2D: _window_cell(explain_pool),
              AveragePooling2D: _window_cell(explain_pool), Dense: explain_dense, Flatten: explain_flatten,
              Dropout: explain_identity, Layer: explain_identity, Rescaling: explain_rescaling,
              Activation: explain_activation, BatchNormalization: explain_batch_norm,
              GlobalAveragePooling2D: explain_global_pool, GlobalMaxPooling2D: explain_global_pool,
              **{augmentation: explain_identity for augmentation in PASSED_THROUGH}}


def explainable(layer):
    return type(layer) in EXPLAINERS


def _check_layer(layer):
    if not explainable(layer):
        kinds = ", ".join(sorted({cls.__name__ for cls in EXPLAINERS}))
        raise ClearCNNError(f"explain: argument `layer` must be a layer of a kind with step-by-step arithmetic "
                            f"({kinds}), or its name or index; received layer={getattr(layer, 'where', layer)!r}.")


def explain_cell(layer, x, row, col, index=0):
    """Explain output (row, col, index) of a built layer for its input `x` (one sample, no batch axis)."""
    _check_layer(layer)
    return EXPLAINERS[type(layer)](layer, np.asarray(x, np.float64), row, col, index)


def layer_input(model, layer, image):
    """The input that `layer` of `model` receives when the model sees one sample (no batch axis)."""
    previous = model.check_input(np.asarray(image)[None])[0]
    for candidate, output in model.layer_outputs(np.asarray(image)[None]):
        if candidate is layer:
            return previous
        previous = output[0]
    raise ClearCNNError(f"explain: layer {layer.name!r} is not in model {model.name!r}.")


def explain(model, image, layer, row, col, index=0):
    """Explain one output value of layer `layer` (a name, an index or the layer) of `model` for one sample `image`
    (an (H, W, C) image, or a vector for a model of vectors): row and column of images, and the filter, channel
    or unit in `index`."""
    if isinstance(layer, str):
        layer = model.get_layer(name=layer)
    elif isinstance(layer, (int, np.integer)) and not isinstance(layer, bool):
        layer = model.get_layer(index=layer)
    _check_layer(layer)
    image = real_array(image, "explain", "argument `image`").astype(np.float64)
    return explain_cell(layer, layer_input(model, layer, image), row, col, index)
