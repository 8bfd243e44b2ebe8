"""Max and average pooling: one base class, the subclasses only pick the reduction; and their global forms,
one window over the whole image.

Keras's default strides equal the pool size.
"""
from .. import ops
from ..errors import ClearCNNError, check_bool
from .base import Layer, WindowLayer, check_data_format, normalize_padding, normalize_tuple


class BasePooling2D(WindowLayer):
    """Shape: (batch, H, W, C) -> (batch, OH, OW, C), with the output-size formula of Conv2D."""
    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        where = self.where
        self.pool_size = normalize_tuple(pool_size, 2, where, "pool_size")
        self.strides = self.pool_size if strides is None else normalize_tuple(strides, 2, where, "strides")
        self.padding = normalize_padding(padding, where)
        if not isinstance(self.padding, str) and any(p >= k for k, pair in zip(self.pool_size, self.padding)
                                                     for p in pair):
            raise ClearCNNError(f"{where}: argument `padding` must be smaller than pool_size={self.pool_size} on "
                                f"each side, or a window would hold only padding; received padding={padding!r}.")
        self.data_format = check_data_format(data_format, where)

    @property
    def window(self):
        return self.pool_size, self.strides, (1, 1), self.padding

    def output_channels(self, channels):
        return channels

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides,
                "padding": self.padding, "data_format": self.data_format}


class MaxPooling2D(BasePooling2D):
    """Each window's largest value; padded cells never win."""

    def forward(self, x, training=False):
        geometry = self.geometry(x.shape[1:3])
        y, cache = ops.max_pool2d_forward(x, geometry)
        self._cache = (geometry, cache, y)
        return y

    def backward(self, dy, input_grad=True):
        geometry, cache, y = self._cache
        return ops.max_pool2d_backward(dy, cache, y, geometry) if input_grad else None


class AveragePooling2D(BasePooling2D):
    """Each window's mean over its real (unpadded) cells."""

    def forward(self, x, training=False):
        self._cache = self.geometry(x.shape[1:3])
        return ops.avg_pool2d_forward(x, self._cache)

    def backward(self, dy, input_grad=True):
        return ops.avg_pool2d_backward(dy, self._cache) if input_grad else None


MaxPool2D, AvgPool2D = MaxPooling2D, AveragePooling2D


class BaseGlobalPooling2D(Layer):
    """One window over the whole image: (batch, H, W, C) -> (batch, C), or (batch, 1, 1, C) with keepdims.

    Any height and width work (the channel count is fixed once built). Subclasses pick the reduction.
    """
    input_ndim = 4

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = check_data_format(data_format, self.where)
        self.keepdims = check_bool(keepdims, self.where, "keepdims")

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 4:
            raise ClearCNNError(self.rank_message(input_shape))
        batch, _, _, channels = input_shape
        return (batch, 1, 1, channels) if self.keepdims else (batch, channels)

    def check_shape_compatible(self, shape):
        """Height and width may change between calls; the channel count may not."""
        if shape[-1] != self.input_shape[-1]:
            raise ClearCNNError(f"{self.where}: input must have {self.input_shape[-1]} channels (last axis) as "
                                f"built; received an array of shape {tuple(shape)}.")

    def forward(self, x, training=False):
        y = self.reduce(x)  # (C, N)
        return y.reshape(y.shape[0], 1, 1, y.shape[1]) if self.keepdims else y

    def backward(self, dy, input_grad=True):
        return self.reduce_backward(dy.reshape(dy.shape[0], dy.shape[-1])) if input_grad else None

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalAveragePooling2D(BaseGlobalPooling2D):
    """Each channel's mean over the image's H * W cells."""

    def reduce(self, x):
        self._cache = x.shape
        return ops.global_avg_pool2d_forward(x)

    def reduce_backward(self, dy):
        return ops.global_avg_pool2d_backward(dy, self._cache)


class GlobalMaxPooling2D(BaseGlobalPooling2D):
    """Each channel's largest value over the image; its gradient goes to that cell (the first, on ties)."""

    def reduce(self, x):
        y, winner = ops.global_max_pool2d_forward(x)
        self._cache = (winner, x.shape)
        return y

    def reduce_backward(self, dy):
        return ops.global_max_pool2d_backward(dy, *self._cache)


GlobalAvgPool2D, GlobalMaxPool2D = GlobalAveragePooling2D, GlobalMaxPooling2D
