"""Losses with Keras's names, defaults and clipping, each with its gradient beside it.

Losses work on public (batch-first) arrays. `compute(y_true, y_pred)` returns the per-sample losses
(N,) and the gradient of each sample's loss with respect to y_pred; the model divides by the batch
size, so that the gradient matches the batch mean that Keras reports.
"""
import numpy as np

from . import _namespaces
from .errors import ClearCNNError, construct, real_array

EPSILON = 1e-7  # Keras clips probabilities to [EPSILON, 1 - EPSILON]


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _log_softmax(z):
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


class Loss:
    name = "loss"

    def __init__(self, from_logits=False, name=None):
        self.from_logits = bool(from_logits)
        self.name = name or self.name

    def __call__(self, y_true, y_pred, sample_weight=None):
        """Mean loss over the batch (weighted by sample_weight if given), as keras.losses do."""
        where = type(self).__name__
        per_sample, _ = self.compute(real_array(y_true, where, "`y_true`", "biuf"), real_array(y_pred, where, "`y_pred`"))
        weights = np.ones_like(per_sample) if sample_weight is None else np.asarray(sample_weight, per_sample.dtype)
        return float((per_sample * weights).sum() / len(per_sample))

    def check(self, y_true, y_pred):
        """Raise ClearCNNError when labels cannot match the model's outputs."""
        if y_true.shape != y_pred.shape:
            raise ClearCNNError(f"{type(self).__name__}: labels `y` must have the model's output shape "
                                f"{y_pred.shape[1:]} per sample; received y of shape {y_true.shape} for outputs of "
                                f"shape {y_pred.shape}. For integer class labels use "
                                f"loss=\"sparse_categorical_crossentropy\".")
        return y_true.astype(y_pred.dtype, copy=False)

    def get_config(self):
        return {"name": self.name, "from_logits": self.from_logits}


class CategoricalCrossentropy(Loss):
    """-sum(y * log p) per sample; y one-hot (N, K). Gradient from logits: softmax(z) - y."""
    name = "categorical_crossentropy"

    def compute(self, y_true, y_pred):
        y_true = self.check(y_true, y_pred)
        return cross_entropy(y_true, y_pred, self.from_logits)


class SparseCategoricalCrossentropy(Loss):
    """Categorical cross-entropy with integer labels (N,) or (N, 1) in [0, K)."""
    name = "sparse_categorical_crossentropy"

    def compute(self, y_true, y_pred):
        return cross_entropy(sparse_to_one_hot(y_true, y_pred, type(self).__name__), y_pred, self.from_logits)


def sparse_to_one_hot(y_true, y_pred, where):
    labels = y_true.reshape(-1) if y_true.ndim == 2 and y_true.shape[1] == 1 else y_true
    classes = y_pred.shape[-1]
    if labels.ndim != 1 or len(labels) != len(y_pred):
        raise ClearCNNError(f"{where}: labels `y` must be one integer class per sample, shape ({len(y_pred)},); "
                            f"received y of shape {y_true.shape}.")
    bad = (labels != np.round(labels)) | (labels < 0) | (labels >= classes)  # NaN is not equal to itself: bad too
    if bad.any():
        raise ClearCNNError(f"{where}: labels `y` must be integers in [0, {classes}) to match the model's "
                            f"{classes} outputs; received a label {labels[bad][0].item()!r}.")
    one_hot = np.zeros(y_pred.shape, dtype=y_pred.dtype)
    one_hot[np.arange(len(labels)), labels.astype(np.int64)] = 1
    return one_hot


def cross_entropy(y_true, y_pred, from_logits):
    if from_logits:
        return -(y_true * _log_softmax(y_pred)).sum(axis=-1), _softmax(y_pred) * y_true.sum(-1, keepdims=True) - y_true
    # Keras's form: q = p / sum(p), clip q, then -sum(y log q). The gradient goes back through all three.
    total = y_pred.sum(axis=-1, keepdims=True)
    q = y_pred / total
    clipped = np.clip(q, EPSILON, 1 - EPSILON)
    dq = np.where(clipped == q, -y_true / clipped, 0)
    return -(y_true * np.log(clipped)).sum(axis=-1), (dq - (dq * q).sum(axis=-1, keepdims=True)) / total


class BinaryCrossentropy(Loss):
    """-(y log p + (1 - y) log(1 - p)), averaged over the last axis."""
    name = "binary_crossentropy"

    def compute(self, y_true, y_pred):
        y_true = self.check(y_true.reshape(y_pred.shape) if y_true.size == y_pred.size else y_true, y_pred)
        k = y_pred.shape[-1]
        if self.from_logits:
            # max(z, 0) - z*y + log(1 + e^-|z|): never overflows. Gradient sigmoid(z) - y.
            z = y_pred
            losses = np.maximum(z, 0) - z * y_true + np.log1p(np.exp(-np.abs(z)))
            return losses.mean(axis=-1), (0.5 * (1 + np.tanh(0.5 * z)) - y_true) / k
        p = np.clip(y_pred, EPSILON, 1 - EPSILON)
        losses = -(y_true * np.log(p) + (1 - y_true) * np.log(1 - p))
        return losses.mean(axis=-1), (-(y_true / p) + (1 - y_true) / (1 - p)) / k


class MeanSquaredError(Loss):
    """mean((y - p)^2) over the last axis."""
    name = "mean_squared_error"

    def __init__(self, name=None):
        super().__init__(False, name)

    def compute(self, y_true, y_pred):
        y_true = self.check(y_true.reshape(y_pred.shape) if y_true.size == y_pred.size else y_true, y_pred)
        diff = y_pred - y_true
        return (diff ** 2).mean(axis=-1), 2 * diff / y_pred.shape[-1]

    def get_config(self):
        return {"name": self.name}


LOSSES = {"categorical_crossentropy": CategoricalCrossentropy,
          "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
          "binary_crossentropy": BinaryCrossentropy, "mean_squared_error": MeanSquaredError,
          "mse": MeanSquaredError}
CLASSES = {cls.__name__: cls for cls in set(LOSSES.values())}


def get(identifier):
    """A Loss from a Keras name ("sparse_categorical_crossentropy", "mse"), a class name, config or instance."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, dict) and str(identifier.get("class_name")) in CLASSES:
        return construct(CLASSES[identifier["class_name"]], identifier.get("config") or {}, "compile", "loss")
    if isinstance(identifier, str) and identifier in LOSSES:
        return LOSSES[identifier]()
    if isinstance(identifier, str) and identifier in CLASSES:
        return CLASSES[identifier]()
    raise ClearCNNError(f"compile: argument `loss` must be one of {', '.join(LOSSES)} or a Loss object; "
                        f"received loss={identifier!r}.")


def serialize(loss):
    return {"class_name": type(loss).__name__, "config": loss.get_config()}

__getattr__ = _namespaces.missing(__name__)
