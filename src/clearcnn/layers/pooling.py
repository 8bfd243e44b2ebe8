"""Max and average pooling: one base class, the subclasses only pick the reduction.

Keras's default strides equal the pool size.
"""
from .. import ops
from ..errors import ClearCNNError
from .base import WindowLayer, check_data_format, normalize_padding, normalize_tuple


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
