"""Input, Flatten, Dense, Activation, Dropout and Rescaling."""
import math

from .. import ops
from ..errors import ClearCNNError, check_int, check_number
from ..ops import get_activation
from ..utils import random_generator
from .base import KernelMixin, Layer, check_data_format, check_shape, positive_int


class InputLayer(Layer):
    """Declares the input shape (without the batch axis) at the start of a Sequential model."""

    def __init__(self, shape=None, batch_size=None, dtype=None, batch_shape=None, name=None, **kwargs):
        super().__init__(name=name, dtype=dtype, batch_size=batch_size, **kwargs)
        if batch_shape is not None:
            batch_size, *shape = check_shape(batch_shape, self.where, "batch_shape", batch=True)
        if shape is None and self.declared_input_shape is None:
            raise ClearCNNError(f"{self.where}: argument `shape` is required, e.g. shape=(28, 28, 1); "
                                f"received shape=None.")
        if shape is not None:
            self.declared_input_shape = (batch_size, *check_shape(shape, self.where, "shape"))
        self.build(self.declared_input_shape)

    def get_config(self):
        return {"batch_shape": list(self.declared_input_shape), "dtype": self.dtype, "name": self.name}

    def __repr__(self):
        return f"InputLayer(shape={self.declared_input_shape[1:]})"


Input = InputLayer


class Flatten(Layer):
    """(batch, d1, ..., dk) -> (batch, d1 * ... * dk), row-major over (d1, ..., dk) as Keras does."""

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = check_data_format(data_format, self.where)

    def compute_output_shape(self, input_shape):
        if len(input_shape) < 2:
            raise ClearCNNError(f"{self.where}: input must have a batch axis and at least one more; "
                                f"received input shape {tuple(input_shape)}.")
        rest = input_shape[1:]
        size = None if None in rest else math.prod(rest)
        return input_shape[0], size

    def forward(self, x, training=False):
        self._cache = x.shape
        return ops.flatten_forward(x)

    def backward(self, dy, input_grad=True):
        return ops.flatten_backward(dy, self._cache) if input_grad else None

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class Dense(KernelMixin, Layer):
    """Fully connected: (batch, in) -> (batch, units), y = activation(x @ kernel + bias), kernel (in, units)."""
    input_ndim = 2

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        where = self.where
        self.units = positive_int(units, where, "units", 128)
        self.init_kernel(activation, use_bias, kernel_initializer, bias_initializer,
                         kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                         activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
                         bias_constraint=bias_constraint)

    def rank_message(self, shape):
        return (f"{self.where}: input must be 2-D (batch, features); received an array of shape {tuple(shape)}. "
                f"Put a Flatten() layer before Dense to turn images into vectors.")

    def kernel_shape(self, input_shape):
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ClearCNNError(self.rank_message(input_shape))
        return input_shape[-1], self.units

    def build(self, input_shape):
        self.build_kernel(input_shape)
        self.kernel.value = ops.dense_kernel_storage(self.kernel.value)  # the same (in, units) array to all
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 2:
            raise ClearCNNError(self.rank_message(input_shape))
        return input_shape[0], self.units

    def forward(self, x, training=False):
        bias = self.bias.value if self.use_bias else None
        y, self._cache = ops.dense_forward(x, self.kernel.value, bias, self.activation)
        return self.regularize_activity(y, training)

    def backward(self, dy, input_grad=True):
        dy = self.activity_gradient(dy)
        dx, dkernel, dbias = ops.dense_backward(dy, self.kernel.value, self._cache, self.activation, input_grad)
        self.set_gradients(dkernel, dbias)
        return dx

    def get_config(self):
        return {**super().get_config(), "units": self.units, **self.kernel_config()}


class Activation(Layer):
    """Applies an activation on its own; softmax normalises over the last (channel/feature) axis."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = get_activation(activation, self.where)

    def forward(self, x, training=False):
        y = self.activation.forward(x)
        self._cache = (x, y)
        return y

    def backward(self, dy, input_grad=True):
        x, y = self._cache
        return self.activation.backward(x, y, dy) if input_grad else None

    def get_config(self):
        return {**super().get_config(), "activation": self.activation.get_config()}


class Dropout(Layer):
    """Inverted dropout: in training each unit is zeroed with probability `rate` and the rest scaled by
    1 / (1 - rate); at inference it is the identity."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = check_number(rate, self.where, "rate", "a number in [0, 1), the fraction of units to drop, "
                                 "such as 0.5", lambda v: 0 <= v < 1)
        if noise_shape is not None:
            raise ClearCNNError(f"{self.where}: argument `noise_shape` is not supported yet and must be None; "
                                f"received noise_shape={noise_shape!r}.")
        if seed is not None:
            check_int(seed, self.where, "seed", "None or a non-negative integer such as 42")
        self.seed = seed
        self.rng = None if seed is None else random_generator(seed)

    def forward(self, x, training=False):
        self._cache = None  # the mask
        if not training or self.rate == 0:
            return x
        y, self._cache = ops.dropout_forward(x, self.rate, self.rng or random_generator())
        return y

    def backward(self, dy, input_grad=True):
        if not input_grad:
            return None
        return dy if self._cache is None else ops.dropout_backward(dy, self._cache)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class Rescaling(Layer):
    """y = x * scale + offset: keeps preprocessing (such as 1/255) inside the model, as Keras does."""

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = check_number(scale, self.where, "scale", "a finite number such as 1/255")
        self.offset = check_number(offset, self.where, "offset", "a finite number such as -1")

    def forward(self, x, training=False):
        return x * x.dtype.type(self.scale) + x.dtype.type(self.offset)

    def backward(self, dy, input_grad=True):
        return dy * dy.dtype.type(self.scale) if input_grad else None

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}
