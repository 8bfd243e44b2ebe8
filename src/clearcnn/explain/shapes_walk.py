"""Walk a network layer by layer: the output-size formula with the numbers filled in, the output shape,
the parameters, the 2-D kernels, and the notes on windows that leave pixels uncovered.

A network is a model, a preset name, or a one-line spec such as
`32x32x3 | conv 6 3 | maxpool 3 1 | conv 16 5 | maxpool 3 1 | flatten | dense 120 | dense 3`.
"""
import math

from ..errors import ClearCNNError
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
    MaxPooling2D,
)
from ..layers.base import WindowLayer

SPEC_HELP = ("HxWxC | conv FILTERS KERNEL [STRIDE [valid|same]] | maxpool POOL [STRIDE [valid|same]] | "
             "avgpool POOL [STRIDE [valid|same]] | flatten | dense UNITS [ACTIVATION] | dropout RATE | bn | gap | gmp")


def _conv(args):
    filters, kernel, *rest = args
    return Conv2D(int(filters), int(kernel), strides=int(rest[0]) if rest else 1,
                  padding=rest[1] if len(rest) > 1 else "valid", activation="relu")


def _pool(cls):
    def make(args):
        pool, *rest = args
        return cls(int(pool), strides=int(rest[0]) if rest else None, padding=rest[1] if len(rest) > 1 else "valid")
    return make


BUILDERS = {"conv": _conv, "maxpool": _pool(MaxPooling2D), "avgpool": _pool(AveragePooling2D),
            "flatten": lambda args: Flatten(), "dense": lambda args: Dense(int(args[0]), *args[1:2]),
            "dropout": lambda args: Dropout(float(args[0])), "activation": lambda args: Activation(args[0]),
            "bn": lambda args: BatchNormalization(), "gap": lambda args: GlobalAveragePooling2D(),
            "gmp": lambda args: GlobalMaxPooling2D()}


def parse_spec(text):
    """(input_shape, [layers]) from a one-line spec."""
    parts = [p.split() for p in text.split("|")]
    try:
        input_shape = tuple(int(d) for d in parts[0][0].lower().split("x"))
        layers = [BUILDERS[p[0].lower()](p[1:]) for p in parts[1:]]
    except (KeyError, IndexError, ValueError) as error:
        raise ClearCNNError(f"shapes: cannot read the network spec ({error}); write it as {SPEC_HELP}; "
                            f"received {text!r}.") from None
    if len(input_shape) == 2:
        input_shape += (1,)
    if min(input_shape) <= 0:
        raise ClearCNNError(f"shapes: the input size must be positive integers such as 32x32x3; received "
                            f"{parts[0][0]!r}.")
    return input_shape, layers


def walk(input_shape, layers):
    """Lines describing each layer for inputs of `input_shape` (without the batch axis). Shapes and parameter
    counts are arithmetic: no layer is built, so a network too large to allocate can still be walked."""
    shape = (None, *input_shape)
    lines = [f"input: {'x'.join(map(str, input_shape))}"]
    total = 0
    for layer in layers:
        lines.append(f"{layer.name} ({type(layer).__name__})")
        if isinstance(layer, WindowLayer):
            try:
                reports = layer.size_reports(shape[1:3])
            except ClearCNNError as error:
                return lines + [f"  {error}"]
            for axis, report in zip(("height", "width"), reports):
                lines.append(f"  {axis}: {report.formula()}" + ("" if report.fits else f", floored to {report.size}"))
        weights = layer.weight_shapes(shape)
        lines += _notes(layer, shape, weights)
        shape = layer.compute_output_shape(shape)
        params = sum(math.prod(s) for s in weights.values())
        total += params
        kernels = ""
        if isinstance(layer, Conv2D):
            kh, kw, c, f = weights["kernel"]
            kernels = f", {f} x {c} = {f * c} two-dimensional {kh}x{kw} kernels"
        lines.append(f"  output {'x'.join(str(d) for d in shape[1:])}, {params:,} parameters{kernels}")
        if isinstance(layer, WindowLayer):
            lines += ["  " + report.message("note", axis)
                      for axis, report in zip(("rows", "columns"), reports) if not report.fits]
    lines.append(f"total: {total:,} parameters")
    return lines


def _notes(layer, input_shape, weights):
    """What global pooling reduces, and which of BatchNormalization's weights are trained."""
    if isinstance(layer, (GlobalAveragePooling2D, GlobalMaxPooling2D)) and None not in input_shape[1:3]:
        h, w = input_shape[1:3]
        kind = "mean" if isinstance(layer, GlobalAveragePooling2D) else "largest value"
        return [f"  one window over the whole image: each channel's {kind} of {h}x{w} = {h * w:,} cells"]
    if isinstance(layer, BatchNormalization):
        channels = input_shape[-1]
        trained = [name for name in weights if not name.startswith("moving")]
        return [f"  {len(weights)} vectors of {channels} ({', '.join(weights)}); "
                f"{'only ' + ' and '.join(trained) + ' are' if trained else 'none is'} trained, the moving "
                f"statistics follow the batches"]
    return []


def walk_model(model):
    return walk(model.input_shape[1:], model.layers)
