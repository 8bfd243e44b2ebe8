"""Activations, each forward and backward side by side.

The feature axis is axis 0 of the internal layout ((C, H, W, N) images, (F, N) vectors), so softmax
normalises over axis 0. `backward(x, y, dy)` gets the input, the output and the upstream gradient and
returns dx; each activation uses whichever of x or y makes its derivative cheapest.
"""
import numpy as np

from ..errors import ClearCNNError


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
        return np.where(y > 0, dy, 0).astype(dy.dtype, copy=False)


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
        return np.where(x > 0, x, self.negative_slope * x).astype(x.dtype, copy=False)

    def backward(self, x, y, dy):
        return np.where(x > 0, dy, self.negative_slope * dy).astype(dy.dtype, copy=False)


class ELU(Activation):
    name = "elu"

    def __init__(self, alpha=1.0):
        self.alpha = alpha

    def forward(self, x):
        return np.where(x > 0, x, self.alpha * np.expm1(np.minimum(x, 0))).astype(x.dtype, copy=False)

    def backward(self, x, y, dy):
        # For x <= 0, d/dx alpha * (e^x - 1) = alpha * e^x = y + alpha.
        return np.where(x > 0, dy, dy * (y + self.alpha)).astype(dy.dtype, copy=False)


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
