"""Conv2D: kernel (kh, kw, in, filters) and bias (filters,), then the activation."""
from .. import ops
from ..errors import ClearCNNError, check_int
from .base import KernelMixin, WindowLayer, check_data_format, normalize_padding, normalize_tuple, positive_int


class Conv2D(KernelMixin, WindowLayer):
    """2-D convolution layer (cross-correlation), channels_last, Keras 3 arguments.

    Shape: (batch, H, W, in) -> (batch, OH, OW, filters), where per side
    OH = floor((H + p_top + p_bottom - ((kh - 1) * dh + 1)) / sh) + 1, and "same" gives OH = ceil(H / sh).

    >>> import numpy as np
    >>> Conv2D(6, 3)(np.zeros((1, 32, 32, 3))).shape
    (1, 30, 30, 6)
    """
    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 **kwargs):
        super().__init__(**kwargs)
        where = self.where
        self.filters = positive_int(filters, where, "filters", 32)
        self.kernel_size = normalize_tuple(kernel_size, 2, where, "kernel_size")
        self.strides = normalize_tuple(strides, 2, where, "strides")
        self.padding = normalize_padding(padding, where)
        self.data_format = check_data_format(data_format, where)
        self.dilation_rate = normalize_tuple(dilation_rate, 2, where, "dilation_rate")
        check_int(groups, where, "groups", "1 (grouped convolution is not supported)", 1, 2)
        self.init_kernel(activation, use_bias, kernel_initializer, bias_initializer,
                         kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                         activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
                         bias_constraint=bias_constraint)
        self.workspace = ops.new_workspace()

    @property
    def window(self):
        return self.kernel_size, self.strides, self.dilation_rate, self.padding

    def output_channels(self, channels):
        return self.filters

    def kernel_shape(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ClearCNNError(f"{self.where}: the channel axis of the input must be known; "
                                f"received input shape {tuple(input_shape)}.")
        return (*self.kernel_size, channels, self.filters)

    def build(self, input_shape):
        self.build_kernel(input_shape)
        super().build(input_shape)

    def forward(self, x, training=False):
        geometry = self.geometry(x.shape[1:3])
        bias = self.bias.value if self.use_bias else None
        y, cache = ops.conv2d_forward(x, self.kernel.value, bias, geometry, self.activation, self.workspace,
                                      training)
        self._cache = (geometry, cache)
        return self.regularize_activity(y, training)

    def backward(self, dy, input_grad=True):
        geometry, cache = self._cache
        dy = self.activity_gradient(dy)
        dx, dkernel, dbias = ops.conv2d_backward(dy, self.kernel.value, cache, geometry, self.activation, input_grad,
                                                 self.workspace)
        self.set_gradients(dkernel, dbias)
        return dx

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": self.dilation_rate, **self.kernel_config()}
