"""The report's Explore section: every layer's output for one sample, from the model's own forward pass
(`Sequential.layer_outputs`, the numbers `explain` reads), and what each layer kind's renderer in explorer.js
needs to write the arithmetic of any cell in the words of `explain`.

Arrays travel as base64 of their little-endian bytes: values and kernels in the model's dtype, so that the page
recomputes exactly what `explain` computes; a Dense layer sends, per unit, its largest products' inputs and
weights and the sum of the rest (cells.dense_terms) instead of its whole kernel. The data sits in a JSON script
element whose `<`, `>` and `&` are escaped, and the page puts every model-supplied string (layer names, class
names) into text nodes, never into markup.
"""
import base64
import html
import json
import math
from importlib import resources

import numpy as np

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
    Rescaling,
)
from .cells import PASSED_THROUGH, dense_terms


def encode(array, dtype=None):
    """{"dtype", "shape", "b64"}: the array's little-endian bytes in base64 (float64 stays float64, other floats
    become float32)."""
    array = np.asarray(array)
    if dtype is None:
        dtype = "float64" if array.dtype == np.float64 else "float32"
    data = np.ascontiguousarray(array, dtype=np.dtype(dtype).newbyteorder("<"))
    return {"dtype": dtype, "shape": list(array.shape), "b64": base64.b64encode(data.tobytes()).decode("ascii")}


def activation_data(activation):
    """The activation's name and its parameter, if it has one."""
    data = {"name": activation.name}
    for parameter in ("negative_slope", "alpha"):
        if hasattr(activation, parameter):
            data[parameter] = float(getattr(activation, parameter))
    return data


def window_data(layer, x):
    geometry = layer.geometry(x.shape[:2])
    (top, _), (left, _) = geometry.pads
    ints = lambda values: [int(v) for v in values]  # noqa: E731
    return {"kernel_size": ints(geometry.kernel), "strides": ints(geometry.strides),
            "dilation": ints(geometry.dilation), "pads": ints((top, left))}


def conv_data(layer, x):
    return {"renderer": "conv", **window_data(layer, x), "kernel": encode(layer.kernel.value),
            "bias": encode(layer.bias.value) if layer.use_bias else None,
            "activation": activation_data(layer.activation)}


def pool_data(mode):
    def data(layer, x):
        return {"renderer": "pool", "mode": mode, **window_data(layer, x)}
    return data


def dense_data(layer, x):
    kernel = layer.kernel.value
    top, rests, totals = dense_terms(x, kernel)
    weights = np.take_along_axis(np.asarray(kernel), top, axis=0)
    return {"renderer": "dense", "top_index": encode(top.T, "int32"), "top_weight": encode(weights.T),
            "rest": encode(rests, "float64"), "total": encode(totals, "float64"),
            "bias": encode(layer.bias.value) if layer.use_bias else None,
            "activation": activation_data(layer.activation)}


def batch_normalization_data(layer, x):
    mean, variance = layer.statistics()
    return {"renderer": "batch_normalization", "mean": encode(mean), "variance": encode(variance),
            "gamma": encode(layer.gamma.value) if layer.scale else None,
            "beta": encode(layer.beta.value) if layer.center else None, "epsilon": float(layer.epsilon)}


def global_pool_data(mode):
    def data(layer, x):
        entry = {"renderer": "global_pool", "mode": mode}
        if mode == "average":  # each channel's exact sum (math.fsum, as cells.explain_global_pool adds them)
            entry["sums"] = encode([math.fsum(x[:, :, c].ravel().tolist()) for c in range(x.shape[2])], "float64")
        return entry
    return data


# What the page needs for each layer kind (the exact class); a kind missing here is shown without arithmetic.
LAYER_DATA = {
    Conv2D: conv_data, MaxPooling2D: pool_data("max"), AveragePooling2D: pool_data("average"), Dense: dense_data,
    Flatten: lambda layer, x: {"renderer": "flatten"},
    Dropout: lambda layer, x: {"renderer": "identity"}, Layer: lambda layer, x: {"renderer": "identity"},
    Rescaling: lambda layer, x: {"renderer": "rescaling", "scale": float(layer.scale), "offset": float(layer.offset)},
    Activation: lambda layer, x: {"renderer": "activation", "activation": activation_data(layer.activation)},
    BatchNormalization: batch_normalization_data, GlobalAveragePooling2D: global_pool_data("average"),
    GlobalMaxPooling2D: global_pool_data("max"), **{kind: lambda layer, x: {"renderer": "identity"} for kind in PASSED_THROUGH},
}


def explorer_data(model, image, class_names=None, caption=""):
    """The page's data for one sample `image` (no batch axis)."""
    x = model.check_input(np.asarray(image)[None])[0]
    layers = [{"name": "input", "kind": "Input", "renderer": "input", "values": encode(x)}]
    for layer, output in model.layer_outputs(x[None]):
        describe = LAYER_DATA.get(type(layer), lambda layer, x: {"renderer": "none"})
        layers.append({"name": layer.name, "kind": type(layer).__name__, "values": encode(output[0]),
                       **describe(layer, x)})
        x = output[0]
    units = model.output_shape[-1]
    names = [str(name) for name in class_names] if class_names and len(class_names) == units else None
    return {"model": model.name, "caption": caption, "class_names": names, "layers": layers}


def asset(name):
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def script_json(data):
    """JSON that is safe inside a <script> element: no `<`, `>` or `&` can end it or open a comment."""
    text = json.dumps(data, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def style():
    return asset("explorer.css")


def explore_section_body(model, image, class_names=None, caption=""):
    """The Explore section's HTML: the data, an empty container the script fills, and the script."""
    script = asset("explorer.js")
    if "</script" in script.lower():
        raise ValueError("explorer.js must not contain a closing script tag")
    data = script_json(explorer_data(model, image, class_names, caption))
    return (f'<p class="note">{html.escape(caption)} Click any cell (or focus a map, move with the arrow keys and '
            f'press Enter) to see its arithmetic, in the words of <code>clearcnn explain</code>.</p>\n'
            f'<div id="explorer"><noscript>The explorer needs JavaScript.</noscript></div>\n'
            f'<script type="application/json" id="explorer-data">{data}</script>\n<script>{script}</script>')
