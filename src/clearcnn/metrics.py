"""Metrics that accumulate over batches: `update_state`, `result`, `reset_state`, as in Keras.

"accuracy" picks binary, sparse or categorical accuracy from the shapes and the loss, as Keras does.
"""
import numpy as np

from . import _namespaces
from .errors import ClearCNNError, check_number, construct, real_array


class Metric:
    def __init__(self, name=None):
        self.name = name or self.default_name
        self.reset_state()

    def reset_state(self):
        self.total, self.count = 0.0, 0.0

    def update_state(self, y_true, y_pred, sample_weight=None):
        where = type(self).__name__
        values = self.values(real_array(y_true, where, "`y_true`", "biuf"), real_array(y_pred, where, "`y_pred`"))
        weights = np.ones(len(values)) if sample_weight is None else np.asarray(sample_weight, float)
        self.total += float((values * weights).sum())
        self.count += float(weights.sum())

    def result(self):
        return self.total / self.count if self.count else 0.0

    def get_config(self):
        return {"name": self.name}


class BinaryAccuracy(Metric):
    default_name = "binary_accuracy"

    def __init__(self, name=None, threshold=0.5):
        self.threshold = check_number(threshold, "BinaryAccuracy", "threshold", "a number such as 0.5")
        super().__init__(name)

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}

    def values(self, y_true, y_pred):
        hits = (y_pred > self.threshold) == (y_true.reshape(y_pred.shape) > 0.5)
        return hits.reshape(len(y_pred), -1).mean(axis=1)


class SparseCategoricalAccuracy(Metric):
    default_name = "sparse_categorical_accuracy"

    def values(self, y_true, y_pred):
        return (y_pred.argmax(axis=-1) == y_true.reshape(len(y_pred))).astype(float)


class CategoricalAccuracy(Metric):
    default_name = "categorical_accuracy"

    def values(self, y_true, y_pred):
        return (y_pred.argmax(axis=-1) == y_true.argmax(axis=-1)).astype(float)


class MeanSquaredError(Metric):
    default_name = "mean_squared_error"

    def values(self, y_true, y_pred):
        return ((y_pred - y_true.reshape(y_pred.shape)) ** 2).reshape(len(y_pred), -1).mean(axis=1)


class MeanAbsoluteError(Metric):
    default_name = "mean_absolute_error"

    def values(self, y_true, y_pred):
        return np.abs(y_pred - y_true.reshape(y_pred.shape)).reshape(len(y_pred), -1).mean(axis=1)


class Accuracy(Metric):
    """"accuracy": the right kind is chosen at the first update, from the label and output shapes."""
    default_name = "accuracy"

    def __init__(self, name=None, loss=None):
        self.loss_name = getattr(loss, "name", loss)
        self.kind = None
        super().__init__(name)

    def values(self, y_true, y_pred):
        if self.kind is None:
            self.kind = self.choose(y_true, y_pred)()
        return self.kind.values(y_true, y_pred)

    def choose(self, y_true, y_pred):
        if self.loss_name == "binary_crossentropy" or y_pred.shape[-1] == 1:
            return BinaryAccuracy
        if self.loss_name == "sparse_categorical_crossentropy" or y_true.ndim < y_pred.ndim or y_true.shape[-1] == 1:
            return SparseCategoricalAccuracy
        return CategoricalAccuracy


METRICS = {"accuracy": Accuracy, "acc": Accuracy, "binary_accuracy": BinaryAccuracy,
           "sparse_categorical_accuracy": SparseCategoricalAccuracy, "categorical_accuracy": CategoricalAccuracy,
           "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
           "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError}
CLASSES = {cls.__name__: cls for cls in set(METRICS.values())}


def get(identifier, loss=None):
    """A Metric from a Keras name ("accuracy", "acc", "mae") or an instance; keeps the name the user gave."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str) and identifier in METRICS:
        cls = METRICS[identifier]
        return cls(name=identifier, loss=loss) if cls is Accuracy else cls(name=identifier)
    if isinstance(identifier, str) and identifier in CLASSES:
        return CLASSES[identifier]()
    if isinstance(identifier, dict) and str(identifier.get("class_name")) in CLASSES:  # from serialize (saved models)
        cls, config = CLASSES[identifier["class_name"]], identifier.get("config") or {}
        if cls is Accuracy and isinstance(config, dict):
            config = {**config, "loss": loss}
        return construct(cls, config, "compile", "metrics")
    raise ClearCNNError(f"compile: argument `metrics` must hold names from {', '.join(METRICS)} or Metric "
                        f"objects; received {identifier!r}.")


def serialize(metric):
    """{"class_name", "config"}: keeps a metric's own name and settings through a saved model."""
    return {"class_name": type(metric).__name__, "config": metric.get_config()}

__getattr__ = _namespaces.missing(__name__)
