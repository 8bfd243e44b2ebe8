"""Activations, each forward and backward side by side.

The feature axis is axis 0 of the internal layout ((C, H, W, N) images, (F, N) vectors), so softmax
normalises over axis 0. `backward(x, y, dy)` gets the input, the output and the upstream gradient and
returns dx; each activation uses whichever of x or y makes its derivative cheapest. Masks are multiplied in rather
than chosen with np.where, which is several times slower on data with mixed signs.
"""
import numpy as np

from ...errors import ClearCNNError


class Activation:
    """Base: the identity ("linear")."""
    name = "linear"

    def forward(self, x):
        return x

    def backward(self, x, y, dy):
        return dy

    def get_config(self):
        return self.name

    def __repr__(self):
        return self.name


class ReLU(Activation):
    name = "relu"

    def forward(self, x):
        return np.maximum(x, 0, dtype=x.dtype)

    def backward(self, x, y, dy):
        return dy * (y > 0)


class Sigmoid(Activation):
    name = "sigmoid"

    def forward(self, x):
        # 0.5 * (1 + tanh(x / 2)) equals 1 / (1 + exp(-x)) and never overflows.
        return 0.5 * (1 + np.tanh(0.5 * x))

    def backward(self, x, y, dy):
        return dy * y * (1 - y)


class Tanh(Activation):
    name = "tanh"

    def forward(self, x):
        return np.tanh(x)

    def backward(self, x, y, dy):
        return dy * (1 - y * y)


class Softmax(Activation):
    name = "softmax"

    def forward(self, x):
        e = np.exp(x - x.max(axis=0, keepdims=True))  # subtracting the max keeps exp finite
        return e / e.sum(axis=0, keepdims=True)

    def backward(self, x, y, dy):
        return y * (dy - (dy * y).sum(axis=0, keepdims=True))


class LeakyReLU(Activation):
    name = "leaky_relu"

    def __init__(self, negative_slope=0.2):  # Keras 3's default slope
        self.negative_slope = negative_slope

    def forward(self, x):
        return np.maximum(x, 0) + x.dtype.type(self.negative_slope) * np.minimum(x, 0)

    def backward(self, x, y, dy):
        slope = dy.dtype.type(self.negative_slope)
        return dy * (slope + (1 - slope) * (x > 0))


class ELU(Activation):
    name = "elu"

    def __init__(self, alpha=1.0):
        self.alpha = alpha

    def forward(self, x):
        return np.maximum(x, 0) + x.dtype.type(self.alpha) * np.expm1(np.minimum(x, 0))

    def backward(self, x, y, dy):
        # For x <= 0, d/dx alpha * (e^x - 1) = alpha * e^x = y + alpha; for x > 0 it is 1.
        positive = x > 0
        return dy * (positive + ~positive * (y + dy.dtype.type(self.alpha)))


ACTIVATIONS = {cls.name: cls for cls in (Activation, ReLU, Sigmoid, Tanh, Softmax, LeakyReLU, ELU)}


def get(identifier, where="layer"):
    """An Activation from a name, None (linear) or an Activation instance."""
    if identifier is None:
        return Activation()
    if isinstance(identifier, Activation):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in ACTIVATIONS:
        return ACTIVATIONS[identifier.lower()]()
    raise ClearCNNError(f"{where}: argument `activation` must be one of {', '.join(sorted(ACTIVATIONS))} "
                        f"or None; received activation={identifier!r}.")
