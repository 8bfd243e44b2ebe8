"""Sequential: a stack of layers with Keras's API. Building, the forward and backward pass, weights, config.

Training (compile, fit, evaluate, predict) lives in training.py, the summary table in summary.py and
the files in clearcnn/saving/.
"""
import math
import os
import threading

import numpy as np

from .. import ops, registry
from ..errors import ClearCNNError, check_int, fail, is_sequence, real_array
from ..layers import InputLayer, Layer
from ..layers.base import check_name, check_shape, unique_name, weight_list
from ..ops import swap_batch_axis
from ..saving import api as saving
from .summary import summary_lines
from .training import Trainer


class Sequential(Trainer):
    """A linear stack of layers.

    >>> from clearcnn.layers import Conv2D, Flatten, Dense
    >>> model = Sequential([Conv2D(6, 3, input_shape=(8, 8, 1)), Flatten(), Dense(3)])
    >>> model.output_shape
    (None, 3)
    """

    def __init__(self, layers=None, name=None, trainable=True):
        self.name = check_name(name, "Sequential") or unique_name("sequential")
        listed = [] if layers is None else list(layers) if is_sequence(layers) else None
        if listed is None or not all(isinstance(layer, Layer) for layer in listed):
            fail(self.where, "layers", layers, "None or a list of layers such as [Dense(10)]")
        self.trainable = trainable
        self._layers = []
        self.input_layer = None
        self.built = False
        self.metadata = {}  # JSON-friendly facts saved with the model, e.g. class_names for the CLI
        self._forward_kept = threading.local()  # .done: this thread's layers hold a forward pass for backward
        super().__init__()
        for layer in listed:
            self.add(layer)

    # --- structure -------------------------------------------------------------------------------

    def add(self, layer):
        """Append a layer; the model is built as soon as its input shape is known."""
        if not isinstance(layer, Layer):
            raise ClearCNNError(f"{self.where}: add() takes a layer such as Dense(10); "
                                f"received {layer!r}.")
        if isinstance(layer, InputLayer):
            if self._layers or self.input_layer is not None:
                raise ClearCNNError(f"{self.where}: an Input must come first; received {layer!r} "
                                    f"after {len(self._layers)} layer(s).")
            self.input_layer = layer
            return
        if any(existing.name == layer.name for existing in self._layers):
            raise ClearCNNError(f"{self.where}: layer names must be unique; received a second layer "
                                f"named {layer.name!r}.")
        if not self._layers and self.input_layer is None and layer.declared_input_shape is not None:
            self.input_layer = InputLayer(batch_shape=layer.declared_input_shape, dtype=layer.dtype)
        self._layers.append(layer)
        if self.input_layer is not None:
            self.build(self.input_layer.declared_input_shape)

    @property
    def where(self):
        return f"Sequential '{self.name}'"

    def pop(self):
        if not self._layers:
            raise ClearCNNError(f"{self.where}: pop() needs a layer to remove; the model has none.")
        layer = self._layers.pop()
        self.built = False
        if self.input_layer is not None and self._layers:
            self.build(self.input_layer.declared_input_shape)
        return layer

    @property
    def layers(self):
        """The layers, without the Input (as in Keras)."""
        return list(self._layers)

    def build(self, input_shape=None):
        """Build every layer from `input_shape` (batch axis first, may be None)."""
        if input_shape is None:
            if self.input_layer is None:
                raise ClearCNNError(f"{self.where}: build() needs an input shape; pass "
                                    f"input_shape=(28, 28, 1) to the first layer or add an Input first.")
            input_shape = self.input_layer.declared_input_shape
        shape = (None, *check_shape(input_shape, self.where, "input_shape", batch=True)[1:])
        if self.input_layer is None:
            self.input_layer = InputLayer(batch_shape=shape)
        for layer in self._layers:
            if not layer.built:
                layer.build(shape)
            elif tuple(layer.input_shape[1:]) != shape[1:]:
                layer.check_shape_compatible((None, *shape[1:]))
            shape = layer.compute_output_shape(shape)
        self.built = bool(self._layers)

    @property
    def input_shape(self):
        return None if self.input_layer is None else self.input_layer.declared_input_shape

    @property
    def output_shape(self):
        shape = self.input_shape
        for layer in self._layers:
            shape = layer.compute_output_shape(shape)
        return shape

    def layer_shapes(self):
        """[(layer, input_shape, output_shape)] for the built model."""
        rows, shape = [], self.input_shape
        for layer in self._layers:
            out = layer.compute_output_shape(shape)
            rows.append((layer, shape, out))
            shape = out
        return rows

    def get_layer(self, name=None, index=None):
        """The layer called `name`, or at position `index` (negative counts from the end), as in Keras."""
        count = len(self._layers)
        if (name is None) == (index is None):
            raise ClearCNNError(f"{self.where}: get_layer() takes a layer `name` or an `index`, one of them; "
                                f"received name={name!r}, index={index!r}.")
        if index is not None:
            return self._layers[check_int(index, self.where, "index", f"an integer from {-count} to {count - 1} "
                                                    f"for its {count} layers", -count, count)]
        for layer in self._layers:
            if layer.name == name:
                return layer
        raise ClearCNNError(f"{self.where}: argument `name` must name one of its layers "
                            f"({', '.join(l.name for l in self._layers) or 'none'}); received name={name!r}.")

    def summary(self, line_length=None, print_fn=None, show_kernels=False):
        """Print Keras's table of layers, output shapes and parameter counts, then notes on windows that do
        not fit their input. `print_fn` receives each line (default: print)."""
        self._require_built("summary")
        if line_length is not None:
            check_int(line_length, self.where, "line_length", "None or a positive integer such as 98", 1)
        if print_fn is not None and not callable(print_fn):
            fail(self.where, "print_fn", print_fn, "None (print) or a function that takes one line")
        for line in summary_lines(self, line_length, show_kernels):
            (print_fn or print)(line)

    # --- computation -----------------------------------------------------------------------------

    def check_input(self, x, argument="x"):
        """The array as the model's dtype, or ClearCNNError naming what shape would work."""
        x = real_array(x, self.where, f"input `{argument}`")
        if not self.built:
            self.build((None, *x.shape[1:]))
        expected = self.input_shape
        fits = x.ndim == len(expected) and all(e is None or e == d for e, d in zip(expected[1:], x.shape[1:]))
        if not fits:
            shown = ", ".join("None" if d is None else str(d) for d in expected[1:])
            hint = ""
            matches = lambda dims: all(e is None or e == d for e, d in zip(expected[1:], dims))  # noqa: E731
            one_sample = x.ndim == len(expected) - 1 and matches(x.shape)
            if one_sample:  # e.g. (28, 28, 1) for (None, 28, 28, 1): the batch axis is missing, not the channel
                hint = (f" This is one sample without the batch axis: predict on {argument}[None] (or "
                        f"np.expand_dims({argument}, 0)), a batch of one of shape {(1, *x.shape)}.")
            elif x.ndim == len(expected) - 2 and expected[-1] == 1 and matches((*x.shape, 1)):
                hint = (f" This is one single-channel image without the batch and channel axes: use "
                        f"{argument}[None, ..., None], of shape {(1, *x.shape, 1)}.")
            elif x.ndim == len(expected) - 1 and expected[-1] == 1:
                hint = f" Add the channel axis with {argument}[..., None]."
            elif x.ndim == len(expected) - 1:
                hint = (f" A single sample needs the batch axis too, {argument}[None], and the shape "
                        f"({shown}) (resize it first).")
            raise ClearCNNError(f"{self.where}: input `{argument}` must have shape (batch, {shown}); "
                                f"received an array of shape {x.shape}.{hint}")
        return x.astype(self.dtype, copy=False)

    @property
    def dtype(self):
        return self._layers[0].dtype if self._layers else "float32"

    def call(self, x, training=False):
        """Outputs for a checked batch (check_input), both in the public layout: the one place where the engine's
        internal layout is entered and left."""
        h = swap_batch_axis(x)
        with ops.batch_scope(len(x)):
            for layer in self._layers:
                h = layer.forward(h, training)
                if not training:  # inference keeps nothing for a backward pass, as under PyTorch's no_grad
                    layer.forget()
        self._forward_kept.done = bool(training)
        return swap_batch_axis(h)

    def backward(self, dy):
        """Backpropagate the loss's gradient with respect to call's output (public layout), filling each
        weight's `.grad`. The gradient goes back only as far as the first layer with trainable weights: the
        layers before it (Rescaling, augmentation) have nothing to learn, and that layer skips its input
        gradient. As in PyTorch, backward consumes what forward kept: each layer lets go of it as soon as its
        own backward is done, so a step's peak memory holds only the layers not yet reached."""
        if not getattr(self._forward_kept, "done", False):
            raise ClearCNNError(f"{self.where}: backward needs a training-mode forward pass (call with "
                                f"training=True) on this thread before it, and each forward pass serves one "
                                f"backward pass: its arrays are let go as backward goes.")
        self._forward_kept.done = False
        dy = swap_batch_axis(dy)
        first = next((i for i, layer in enumerate(self._layers) if layer.trainable_weights), len(self._layers))
        with ops.batch_scope(dy.shape[-1]):
            for index in range(len(self._layers) - 1, first - 1, -1):
                dy = self._layers[index].backward(dy, input_grad=index > first)
                self._layers[index].forget()
        for layer in self._layers[:first]:
            layer.forget()

    def layer_outputs(self, x):
        """(layer, its output) for every layer in order, for batch `x` in inference mode, public layout."""
        h = swap_batch_axis(self.check_input(x))
        for layer in self._layers:
            h = layer.forward(h)
            yield layer, swap_batch_axis(h)

    def __call__(self, x, training=False):
        """Outputs for `x`; with training=True, the layers in training mode, and their state updated (as Keras:
        BatchNormalization's moving statistics)."""
        y = self.call(self.check_input(x), training)
        if training:
            for layer in self._layers:
                layer.apply_state_updates()
        return y

    # --- weights ---------------------------------------------------------------------------------

    @property
    def weights(self):
        return [w for layer in self._layers for w in layer.weights]

    @property
    def trainable_weights(self):
        return [w for layer in self._layers if layer.trainable for w in layer.trainable_weights]

    @property
    def non_trainable_weights(self):
        trainable = {id(w) for w in self.trainable_weights}
        return [w for w in self.weights if id(w) not in trainable]

    def get_weights(self):
        return [w.numpy() for w in self.weights]

    def set_weights(self, arrays):
        """Replace every weight, all or nothing: each layer checks its arrays (count, shapes, real numbers) before
        any weight of any layer is assigned. The file loaders rely on this."""
        arrays = weight_list(arrays, self.where)
        if len(arrays) != len(self.weights):
            raise ClearCNNError(f"{self.where}: set_weights needs {len(self.weights)} arrays; "
                                f"received {len(arrays)}.")
        checked, start = [], 0
        for layer in self._layers:
            count = len(layer.weights)
            checked += zip(layer.weights, layer.checked_weights(arrays[start:start + count]))
            start += count
        for weight, array in checked:
            weight.assign(array)

    def count_params(self):
        self._require_built("count_params")
        return sum(layer.count_params() for layer in self._layers)

    def _require_built(self, what):
        if not self.built:
            raise ClearCNNError(f"{self.where}: {what}() needs a built model; give the first layer "
                                f"input_shape=(...), add an Input, or call the model on data first.")

    # --- configuration ---------------------------------------------------------------------------

    def get_config(self):
        entries = [] if self.input_layer is None else [
            {"class_name": "InputLayer", "config": self.input_layer.get_config()}]
        entries += [{"class_name": type(layer).__name__, "config": layer.get_config()} for layer in self._layers]
        return {"name": self.name, "trainable": self.trainable, "layers": entries}

    @classmethod
    def from_config(cls, config, max_weight_bytes=None):
        """The model a get_config() describes. `max_weight_bytes`: refuse, before any weight is allocated, an
        architecture whose weights would take more (a file's reader passes what the file can hold)."""
        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        layers = []
        for entry in config["layers"]:
            layer_class = registry.lookup(entry["class_name"], kind="layer")
            if layer_class is None:
                raise ClearCNNError(f"Sequential.from_config: unknown layer class {entry['class_name']!r}; "
                                    f"supported: {', '.join(registry.registered('layer'))}.")
            layers.append(layer_class.from_config(dict(entry["config"])))
        cls.check_weight_bytes(layers, max_weight_bytes)
        for layer in layers:
            model.add(layer)
        return model

    @staticmethod
    def check_weight_bytes(layers, max_weight_bytes, input_shape=None):
        """Raise ClearCNNError when `layers`, not yet built, would allocate more than `max_weight_bytes` for their
        weights on inputs of `input_shape` (batch axis first; default: the first layer's declared shape). Shape
        arithmetic only: nothing is allocated. Nothing is checked without a limit or an input shape."""
        if input_shape is None and layers:
            input_shape = layers[0].declared_input_shape
        if max_weight_bytes is None or input_shape is None:
            return
        shape, total = (None, *tuple(input_shape)[1:]), 0
        for layer in layers:
            if not isinstance(layer, InputLayer):
                count = sum(math.prod(s) for s in layer.weight_shapes(shape).values())
                total += count * np.dtype(layer.dtype).itemsize
                shape = layer.compute_output_shape(shape)
        if total > max_weight_bytes:
            raise ClearCNNError(f"Sequential.from_config: the architecture's weights would take {total:,} bytes, and "
                                f"the file holds at most {max_weight_bytes:,}; the file is damaged or hostile.")

    def export(self, filepath, format=None, opset=17, verbose=None):
        """Write the inference graph for another runtime, as Keras's model.export: ONNX, chosen by a name ending in
        .onnx or format="onnx", at ONNX opset `opset` (13 or newer). The file takes and gives what predict does
        (float32, batch axis dynamic); needs the onnx package: pip install "clearcnn[onnx]".

        >>> model.export("model.onnx")  # doctest: +SKIP
        """
        saving.export_model(self, filepath, format, opset)
        if verbose:
            print(f"Saved the ONNX model to {os.fspath(filepath)}")

    def __repr__(self):
        return f"<Sequential name={self.name!r}, {len(self._layers)} layers, built={self.built}>"

