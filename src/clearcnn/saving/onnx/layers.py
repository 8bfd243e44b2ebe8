"""One exporter per layer class: `exporter(layer, graph, input_shape)` appends the layer's inference computation to
the graph (see graph.py). `input_shape` is the layer's input shape in the model, batch first, channels last.

A layer class missing from EXPORTERS cannot be exported; the export names it before anything is written. The
table is keyed by the registered class name, and a layer counts only when its class is the registered one: a
subclass that changes the computation has to be given an exporter of its own.
"""
import numpy as np

from ... import registry
from ...errors import ClearCNNError
from . import images

# --- activations ---------------------------------------------------------------------------------

def _softmax(graph, activation):
    graph.add("Softmax", axis=graph.channel_axis)  # over the channels (features), as clearcnn's softmax


ACTIVATIONS = {  # activation name -> function(graph, activation) appending its nodes
    "linear": lambda graph, activation: None,
    "relu": lambda graph, activation: graph.add("Relu"),
    "sigmoid": lambda graph, activation: graph.add("Sigmoid"),
    "tanh": lambda graph, activation: graph.add("Tanh"),
    "softmax": _softmax,
    "leaky_relu": lambda graph, activation: graph.add("LeakyRelu", alpha=float(activation.negative_slope)),
    "elu": lambda graph, activation: graph.add("Elu", alpha=float(activation.alpha)),
}


def check_activation(layer, activation):
    if activation.name not in ACTIVATIONS:
        raise ClearCNNError(f"export: {layer.where} uses the activation {activation.name!r}, which has no ONNX "
                            f"export; exported activations: {', '.join(ACTIVATIONS)}.")


def add_activation(graph, activation):
    ACTIVATIONS[activation.name](graph, activation)


# --- windows: Conv2D and pooling -----------------------------------------------------------------

def window_attributes(layer, input_shape):
    """kernel_shape, strides and pads of a Conv2D or pooling layer on its input. The pads come from the layer's
    own geometry, so "same" puts the odd pixel at the bottom and right, as Keras does. An input whose height or
    width is not fixed gets auto_pad="SAME_UPPER", ONNX's name for the same rule."""
    kernel, strides, dilation, padding = layer.window
    attributes = {"kernel_shape": list(kernel), "strides": list(strides)}
    height, width = input_shape[1:3]
    if height is None or width is None:
        if padding == "same":
            attributes["auto_pad"] = "SAME_UPPER"
            return attributes
        if padding == "valid":
            padding = ((0, 0), (0, 0))
        (top, bottom), (left, right) = padding
    else:
        (top, bottom), (left, right) = layer.geometry((height, width)).pads
    attributes["pads"] = [top, left, bottom, right]  # ONNX: all the starts, then all the ends
    return attributes


def export_conv2d(layer, graph, input_shape):
    """Conv with the kernel turned from Keras's (kh, kw, in, out) into ONNX's (out, in, kh, kw), then the
    activation."""
    check_activation(layer, layer.activation)
    graph.channels_first()
    inputs = [graph.value, graph.constant(layer.kernel.name, layer.kernel.value.transpose(3, 2, 0, 1))]
    if layer.use_bias:
        inputs.append(graph.constant(layer.bias.name, layer.bias.value))
    graph.add("Conv", *inputs, dilations=list(layer.dilation_rate), **window_attributes(layer, input_shape))
    add_activation(graph, layer.activation)


def export_max_pooling2d(layer, graph, input_shape):
    graph.channels_first()  # ONNX's MaxPool never picks a padded cell, as clearcnn's
    graph.add("MaxPool", **window_attributes(layer, input_shape))


def export_average_pooling2d(layer, graph, input_shape):
    graph.channels_first()
    # count_include_pad=0: each window's sum is divided by its real cells, as clearcnn and Keras do.
    graph.add("AveragePool", count_include_pad=0, **window_attributes(layer, input_shape))


# --- vectors and element-wise layers ---------------------------------------------------------------

def export_flatten(layer, graph, input_shape):
    graph.channels_last()  # Keras flattens (h, w, c): the Dense after it expects that order
    graph.flatten()


def export_dense(layer, graph, input_shape):
    """Gemm: x @ kernel + bias, with the kernel as Keras stores it (in, units)."""
    check_activation(layer, layer.activation)
    inputs = [graph.value, graph.constant(layer.kernel.name, layer.kernel.value)]
    if layer.use_bias:
        inputs.append(graph.constant(layer.bias.name, layer.bias.value))
    graph.add("Gemm", *inputs)
    add_activation(graph, layer.activation)


def export_activation(layer, graph, input_shape):
    check_activation(layer, layer.activation)
    add_activation(graph, layer.activation)


def export_rescaling(layer, graph, input_shape):
    """y = x * scale + offset as Mul and Add (a factor of 1 or an offset of 0 is left out)."""
    if layer.scale != 1:
        graph.add("Mul", graph.value, graph.constant(f"{layer.name}/scale", layer.scale))
    if layer.offset != 0:
        graph.add("Add", graph.value, graph.constant(f"{layer.name}/offset", layer.offset))


def export_batch_normalization(layer, graph, input_shape):
    """Inference mode only (the moving statistics), as ONNX's BatchNormalization on images and vectors; on inputs
    of another rank, whose channels ONNX's operator cannot find at axis 1, folded into y = x * a + b with
    a = gamma / sqrt(moving_variance + epsilon), b = beta - moving_mean * a."""
    mean, variance = layer.statistics()
    channels = mean.shape[0]
    gamma = layer.gamma.value if layer.scale else np.ones(channels, np.float32)
    beta = layer.beta.value if layer.center else np.zeros(channels, np.float32)
    if graph.rank in (2, 4):
        graph.channels_first()
        names = ("gamma", "beta", "moving_mean", "moving_variance")
        inputs = [graph.constant(f"{layer.name}/{name}", array) for name, array in zip(names, (gamma, beta, mean,
                                                                                              variance))]
        graph.add("BatchNormalization", graph.value, *inputs, epsilon=float(layer.epsilon))
        return
    factor = gamma.astype(np.float64) / np.sqrt(variance.astype(np.float64) + layer.epsilon)
    graph.add("Mul", graph.value, graph.constant(f"{layer.name}/factor", factor))
    graph.add("Add", graph.value, graph.constant(f"{layer.name}/shift", beta - mean * factor))


def export_global_pooling(op_type):
    def export(layer, graph, input_shape):
        graph.channels_first()
        graph.add(op_type)  # (batch, C, 1, 1): keepdims's shape, channels-last again at the output
        if not layer.keepdims:
            graph.flatten()
    export.__doc__ = f"{op_type}, then Flatten to (batch, channels) unless keepdims."
    return export


def export_identity(layer, graph, input_shape):
    """Layers that change nothing at inference (Dropout, the bare base Layer): left out of the graph."""


EXPORTERS = {  # registered layer class name -> exporter
    "Layer": export_identity,
    "Conv2D": export_conv2d,
    "MaxPooling2D": export_max_pooling2d,
    "AveragePooling2D": export_average_pooling2d,
    "Flatten": export_flatten,
    "Dense": export_dense,
    "Activation": export_activation,
    "Dropout": export_identity,
    "Rescaling": export_rescaling,
    "BatchNormalization": export_batch_normalization,
    "GlobalAveragePooling2D": export_global_pooling("GlobalAveragePool"),
    "GlobalMaxPooling2D": export_global_pooling("GlobalMaxPool"),
    **images.EXPORTERS,
}


def exporter_for(layer):
    """The exporter of the layer's class, or ClearCNNError naming the layer."""
    name = type(layer).__name__
    exporter = EXPORTERS.get(name) if registry.lookup(name) is type(layer) else None
    if exporter is None:
        exportable = [n for n in registry.registered("layer") if n in EXPORTERS]
        raise ClearCNNError(f"export: {layer.where} ({type(layer).__module__}.{type(layer).__qualname__}) has no "
                            f"ONNX export; layers that export: {', '.join(exportable)}. Nothing was written.")
    if hasattr(layer, "activation"):
        check_activation(layer, layer.activation)
    return exporter
