"""The layer contract, after Keras's lifecycle.

`__init__` validates and stores settings, `build(input_shape)` creates weights, `compute_output_shape`
is pure arithmetic, `get_config` serialises. `forward` and `backward` work on the engine's internal
layout (batch last, see ops/layout.py) and only compute; the optimizer, never the layer, changes weights.
Calling a layer on a public (batch-first, channels-last) array builds it and runs the forward pass.
"""
import inspect
import itertools
import threading
from collections import defaultdict
from contextlib import contextmanager

import numpy as np

from .. import constraints, initializers, regularizers
from ..errors import ClearCNNError, check_bool, check_int, fail, is_sequence, real_array
from ..ops import Geometry, get_activation, swap_batch_axis
from ..ops.shapes import is_int as _is_int
from ..ops.shapes import size_report
from ..utils import to_snake_case

_name_counters = defaultdict(itertools.count)


def unique_name(prefix):
    """Keras-style automatic names: conv2d, conv2d_1, conv2d_2, ..."""
    index = next(_name_counters[prefix])
    return prefix if index == 0 else f"{prefix}_{index}"


_whole_batch = threading.local()  # .count: the batch that this thread's forward pass computes a shard of


@contextmanager
def shard_of_batch(count):
    """While the block runs on this thread, forward passes compute one replica's shard of a batch of `count`
    samples: derivatives of per-batch means (the activity regularizer's) are divided by `count`, so that the
    replicas' gradients sum to the whole batch's. Each shard's own penalty stays its mean over the shard."""
    previous, _whole_batch.count = getattr(_whole_batch, "count", None), count
    try:
        yield
    finally:
        _whole_batch.count = previous


class Weight:
    """A named parameter array with its gradient: what optimizers update. A regularizer adds its penalty to the
    training loss (and its derivative to `grad`); a constraint projects the value after each optimizer update."""

    def __init__(self, name, value, trainable=True, regularizer=None, constraint=None):
        self.name, self.value, self.trainable = name, value, trainable
        self.regularizer, self.constraint = regularizer, constraint
        self.grad = None

    @property
    def shape(self):
        return self.value.shape

    def numpy(self):
        return self.value.copy()

    def assign(self, value):
        self.value[...] = value

    def __repr__(self):
        return f"<Weight {self.name} shape={self.shape} dtype={self.value.dtype}>"


class Layer:
    input_ndim = None  # rank the layer expects, batch included (None: any)

    def __init__(self, name=None, trainable=True, dtype=None, input_shape=None, batch_input_shape=None,
                 batch_size=None, **unknown):
        where = f"{type(self).__name__}"
        if unknown:
            key = next(iter(unknown))
            raise ClearCNNError(f"{where}: unknown argument `{key}` (received {key}={unknown[key]!r}); "
                                f"see help({type(self).__name__}) for the accepted arguments.")
        self.name = check_name(name, where) or unique_name(to_snake_case(type(self).__name__))
        self.trainable = check_bool(trainable, where, "trainable")  # "no" would silently count as True
        self.dtype = _check_dtype(dtype, self.where)
        if batch_size is not None:
            check_int(batch_size, self.where, "batch_size", "None or a positive integer such as 32", 1)
        if batch_input_shape is not None:
            input_shape = check_shape(batch_input_shape, self.where, "batch_input_shape", batch=True)[1:]
        self.declared_input_shape = None
        if input_shape is not None:
            self.declared_input_shape = (batch_size, *check_shape(input_shape, self.where, "input_shape"))
        self.built = False
        self.input_shape = self.output_shape = None
        self._weights = []
        self.rng = None  # a random generator for layers that draw (Dropout); None: the shared one
        self._per_thread = threading.local()  # what forward keeps for backward, per calling thread

    @property
    def where(self):
        return f"{type(self).__name__} '{self.name}'"

    # --- lifecycle -------------------------------------------------------------------------------

    def build(self, input_shape):
        """Create weights for inputs of `input_shape` (batch axis first, may be None)."""
        self.input_shape = tuple(input_shape)
        self.output_shape = self.compute_output_shape(self.input_shape)
        self.built = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def weight_shapes(self, input_shape):
        """{name: shape} of the weights that build(input_shape) creates: arithmetic, nothing is allocated."""
        return {}

    def add_weight(self, name, shape, initializer, trainable=True, regularizer=None, constraint=None):
        value = initializers.get(initializer, self.where)(shape, dtype=self.dtype, where=self.where,
                                                          what=f"weight `{name}`")
        weight = Weight(f"{self.name}/{name}", value, trainable and self.trainable,
                        regularizers.get(regularizer, self.where, "regularizer"),
                        constraints.get(constraint, self.where, "constraint"))
        self._weights.append(weight)
        return weight

    # --- computation (internal layout) -----------------------------------------------------------

    @property
    def _cache(self):
        """What the last forward pass on this thread kept for backward: threads predicting with one model at
        once never read each other's."""
        return getattr(self._per_thread, "cache", None)

    @_cache.setter
    def _cache(self, value):
        self._per_thread.cache = value

    def forget(self):
        """Let go of what the last forward pass on this thread kept for backward."""
        self._per_thread.cache = None

    def forward(self, x, training=False):
        """Internal-layout forward pass; keeps what backward needs."""
        return x

    def backward(self, dy, input_grad=True):
        """Fill each weight's `.grad` and return the gradient for the input (None if not wanted)."""
        return dy

    def apply_state_updates(self):
        """Apply what this thread's last training-mode forward pass observed to the layer's non-trainable state
        (BatchNormalization's moving statistics). The trainer calls it after the optimizer's step, once the
        loss is known to be finite; a call with training=True calls it at once. Nothing, for most layers."""

    def __call__(self, x, training=False):
        """Forward pass on a public (batch-first, channels-last) array, building the layer first if needed."""
        x = self.check_input(x)
        if not self.built:
            self.build((None, *x.shape[1:]))
        y = swap_batch_axis(self.forward(swap_batch_axis(x.astype(self.dtype, copy=False)), training))
        if training:
            self.apply_state_updates()
        return y

    def check_input(self, x):
        """Raise ClearCNNError for an array this layer cannot take; return it as an array otherwise."""
        x = real_array(x, self.where, "input")
        if self.input_ndim is not None and x.ndim != self.input_ndim:
            raise ClearCNNError(self.rank_message(x.shape))
        if self.built:
            self.check_shape_compatible(x.shape)
        return x

    def rank_message(self, shape):
        return (f"{self.where}: input must have {self.input_ndim} dimensions (batch first); "
                f"received an array of shape {tuple(shape)}.")

    def check_shape_compatible(self, shape):
        """By default every axis after the batch must match the built shape."""
        expected = self.input_shape[1:]
        if tuple(shape[1:]) != tuple(expected):
            raise ClearCNNError(f"{self.where}: input shape must be (batch, {', '.join(map(str, expected))}) as "
                                f"built; received an array of shape {tuple(shape)}.")

    # --- weights ---------------------------------------------------------------------------------

    @property
    def weights(self):
        return list(self._weights)

    @property
    def trainable_weights(self):
        return [w for w in self._weights if w.trainable]

    @property
    def non_trainable_weights(self):
        return [w for w in self._weights if not w.trainable]

    def get_weights(self):
        """Copies of the weight arrays in Keras's order (kernel, then bias)."""
        return [w.numpy() for w in self._weights]

    def set_weights(self, arrays):
        """Replace the weights, all or nothing: every array is checked before any is assigned."""
        for weight, array in zip(self._weights, self.checked_weights(arrays)):
            weight.assign(array)

    def checked_weights(self, arrays):
        """`arrays` as arrays that set_weights can assign (right count, shapes, real numbers; integers are
        converted when assigned), or ClearCNNError; changes nothing."""
        arrays = weight_list(arrays, self.where)
        if not self.built and arrays:
            raise ClearCNNError(f"{self.where}: set_weights needs a built layer; call it on data or "
                                f"build(input_shape) first; received {len(arrays)} arrays for an unbuilt layer.")
        if len(arrays) != len(self._weights):
            raise ClearCNNError(f"{self.where}: set_weights needs {len(self._weights)} arrays "
                                f"({', '.join(w.name for w in self._weights) or 'none'}); received {len(arrays)}.")
        checked = [real_array(a, self.where, f"weight `{w.name}`") for w, a in zip(self._weights, arrays)]
        for weight, array in zip(self._weights, checked):
            if array.shape != weight.shape:
                raise ClearCNNError(f"{self.where}: weight `{weight.name}` must have shape {weight.shape}; "
                                    f"received an array of shape {array.shape}.")
        return checked

    def count_params(self):
        return int(sum(w.value.size for w in self._weights))

    # --- penalties (Keras's layer.losses) ------------------------------------------------------------

    @property
    def losses(self):
        """The penalties this layer adds to the training loss: its trainable weights' regularizers, and its
        activity regularizer on this thread's last output (divided by the batch size), as Keras's layer.losses."""
        penalties = [w.regularizer(w.value) for w in self.trainable_weights if w.regularizer is not None]
        activity = getattr(self._per_thread, "activity_penalty", None)
        return penalties + ([activity] if activity is not None else [])

    def add_regularization_gradients(self):
        """Add the weight regularizers' derivatives to the gradients backward filled."""
        for weight in self.trainable_weights:
            if weight.regularizer is not None and weight.grad is not None:
                weight.grad = weight.grad + weight.regularizer.gradient(weight.value)

    def regularize_activity(self, y, training=False):
        """Forward's last step: keep the activity regularizer's penalty on output `y` (internal layout, batch last),
        divided by the batch size as Keras does, and in training its derivative for backward (taken now: later
        layers may reuse the output's memory). Returns y."""
        regularizer = getattr(self, "activity_regularizer", None)
        if regularizer is not None:
            whole = getattr(_whole_batch, "count", None) or y.shape[-1]
            self._per_thread.activity_penalty = regularizer(y) / y.shape[-1]
            self._per_thread.activity_grad = regularizer.gradient(y) / whole if training else None
        return y

    def activity_gradient(self, dy):
        """Backward's first step: dy plus the activity penalty's derivative with respect to the output."""
        grad = getattr(self._per_thread, "activity_grad", None)
        return dy if getattr(self, "activity_regularizer", None) is None or grad is None else dy + grad

    # --- serialisation ---------------------------------------------------------------------------

    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}
        if self.declared_input_shape is not None:
            config["batch_input_shape"] = list(self.declared_input_shape)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        """Only the settings that differ from the defaults, as PyTorch's extra_repr does."""
        config = self.get_config()
        required = {name: config[name] for name, p in inspect.signature(type(self).__init__).parameters.items()
                    if p.default is inspect.Parameter.empty and p.kind == p.POSITIONAL_OR_KEYWORD and name != "self"}
        defaults = type(self)(**required, name="repr").get_config()
        shown = {**required, **{k: v for k, v in config.items() if k not in required and
                                k not in ("name", "trainable", "dtype") and defaults.get(k) != v}}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in shown.items())})"


def _check_dtype(dtype, where):
    if dtype is None:
        return "float32"
    try:
        name = np.dtype(dtype).name if not isinstance(dtype, dict) else dtype.get("config", {}).get("name", "float32")
    except TypeError:
        name = None
    if name not in ("float32", "float64"):
        raise ClearCNNError(f"{where}: argument `dtype` must be 'float32' or 'float64'; received dtype={dtype!r}.")
    return name


def check_shape(shape, where, argument, batch=False):
    """A tuple of positive ints (None allowed), or ClearCNNError; with `batch`, the batch axis comes first."""
    try:
        dims = tuple(shape)
    except TypeError:
        dims = ()
    if len(dims) < 1 + batch or not all(d is None or (_is_int(d) and d > 0) for d in dims):
        fail(where, argument, shape, "a tuple of positive integers with the batch axis first (None for any size), "
             "such as (None, 32, 32, 3)" if batch else
             "a tuple of positive integers such as (32, 32, 3), without the batch axis")
    return tuple(None if d is None else int(d) for d in dims)


def check_name(name, where):
    """None or a string without "/", which separates layer and weight names (dense/kernel) in files."""
    if name is not None and (not isinstance(name, str) or "/" in name):
        fail(where, "name", name, 'a string without "/", such as "dense_1"')
    return name


def weight_list(arrays, where):
    """The list of arrays that set_weights receives, or ClearCNNError for something that is not one."""
    if not (is_sequence(arrays) or isinstance(arrays, np.ndarray)):
        fail(f"{where}: set_weights", "arrays", arrays, "a list of arrays, one per weight, as get_weights() returns")
    return list(arrays)


def normalize_tuple(value, n, where, argument, allow_zero=False):
    """An int or n ints -> a tuple of n positive ints (Keras's standardize_tuple)."""
    values = (value,) * n if _is_int(value) else value
    try:
        values = tuple(values)
    except TypeError:
        values = None
    low = 0 if allow_zero else 1
    if values is None or len(values) != n or not all(_is_int(v) and v >= low for v in values):
        kind = "non-negative" if allow_zero else "positive"
        raise ClearCNNError(f"{where}: argument `{argument}` must be a {kind} integer or a tuple of {n} "
                            f"{kind} integers; received {argument}={value!r}.")
    return tuple(int(v) for v in values)


def positive_int(value, where, argument, example):
    return check_int(value, where, argument, f"a positive integer such as {example}", 1)


def normalize_padding(padding, where):
    """"valid", "same", or explicit ((top, bottom), (left, right)) from an int, a pair or two pairs."""
    if isinstance(padding, str):
        if padding.lower() in ("valid", "same"):
            return padding.lower()
    elif _is_int(padding) and padding >= 0:
        return (int(padding),) * 2, (int(padding),) * 2
    else:
        try:
            parts = tuple(padding)
            if len(parts) == 2 and all(_is_int(p) and p >= 0 for p in parts):
                return (int(parts[0]),) * 2, (int(parts[1]),) * 2
            pairs = tuple(tuple(p) for p in parts)
            if len(pairs) == 2 and all(len(p) == 2 and all(_is_int(v) and v >= 0 for v in p) for p in pairs):
                return tuple(tuple(int(v) for v in p) for p in pairs)
        except TypeError:
            pass
    raise ClearCNNError(f"{where}: argument `padding` must be \"valid\", \"same\", a non-negative int, a pair "
                        f"(height, width) or ((top, bottom), (left, right)); received padding={padding!r}.")


def check_data_format(data_format, where):
    if data_format not in (None, "channels_last"):
        raise ClearCNNError(f"{where}: argument `data_format` must be \"channels_last\" (images as "
                            f"(batch, height, width, channels)); received data_format={data_format!r}.")
    return "channels_last"


class WindowLayer(Layer):
    """What Conv2D and the pooling layers share: a sliding-window geometry over (batch, H, W, C) inputs.

    Subclasses set `window` = (kernel, strides, dilation, padding) and `output_channels(c)`.
    """
    input_ndim = 4

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._geometries = {}

    def geometry(self, in_hw):
        """The window geometry for one input size (cached: a model sees few sizes)."""
        in_hw = tuple(in_hw)
        if in_hw not in self._geometries:
            kernel_argument = "pool_size" if hasattr(self, "pool_size") else "kernel_size"
            where = f"{self.where} ({kernel_argument}={self.window[0]}, padding={self.padding!r})"
            self._geometries[in_hw] = Geometry.of(in_hw, *self.window, where=where)
        return self._geometries[in_hw]

    def size_reports(self, in_hw):
        """The size report for height and width (see clearcnn.ops.shapes.SizeReport)."""
        g = self.geometry(in_hw)
        return [size_report(n, k, s, p, d) for n, k, s, p, d in zip(g.in_hw, g.kernel, g.strides, g.pads, g.dilation)]

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 4:
            raise ClearCNNError(self.rank_message(input_shape))
        batch, h, w, c = input_shape
        out_hw = (None, None) if h is None or w is None else self.geometry((h, w)).out_hw
        return (batch, *out_hw, self.output_channels(c))

    def check_shape_compatible(self, shape):
        """Height and width may change between calls; the channel count may not."""
        if shape[-1] != self.input_shape[-1]:
            raise ClearCNNError(f"{self.where}: input must have {self.input_shape[-1]} channels (last axis) as "
                                f"built; received an array of shape {tuple(shape)}.")


class KernelMixin:
    """What Conv2D and Dense share: a kernel, an optional bias, then an activation."""

    def init_kernel(self, activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer=None,
                    bias_regularizer=None, activity_regularizer=None, kernel_constraint=None, bias_constraint=None):
        where = self.where
        self.activation = get_activation(activation, where)
        if not isinstance(use_bias, bool):
            raise ClearCNNError(f"{where}: argument `use_bias` must be True or False; received use_bias={use_bias!r}.")
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer, where, "kernel_initializer")
        self.bias_initializer = initializers.get(bias_initializer, where, "bias_initializer")
        self.kernel_regularizer = regularizers.get(kernel_regularizer, where, "kernel_regularizer")
        self.bias_regularizer = regularizers.get(bias_regularizer, where, "bias_regularizer")
        self.activity_regularizer = regularizers.get(activity_regularizer, where, "activity_regularizer")
        self.kernel_constraint = constraints.get(kernel_constraint, where, "kernel_constraint")
        self.bias_constraint = constraints.get(bias_constraint, where, "bias_constraint")
        self.kernel = self.bias = None

    def weight_shapes(self, input_shape):
        kernel = self.kernel_shape(input_shape)
        return {"kernel": kernel, "bias": kernel[-1:]} if self.use_bias else {"kernel": kernel}

    def build_kernel(self, input_shape):
        shapes = self.weight_shapes(input_shape)
        self.kernel = self.add_weight("kernel", shapes["kernel"], self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight("bias", shapes["bias"], self.bias_initializer,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)

    def set_gradients(self, dkernel, dbias):
        self.kernel.grad = dkernel
        if self.use_bias:
            self.bias.grad = dbias

    def kernel_config(self):
        return {"activation": self.activation.get_config(), "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "activity_regularizer": regularizers.serialize(self.activity_regularizer),
                "kernel_constraint": constraints.serialize(self.kernel_constraint),
                "bias_constraint": constraints.serialize(self.bias_constraint)}
