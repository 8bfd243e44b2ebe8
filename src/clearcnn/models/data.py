"""Turning what fit, evaluate and predict receive into batches of (x, y, sample_weight): arrays, or any iterable
of (x, y) or (x, y, sample_weight) batches (such as clearcnn.datasets.image_dataset_from_directory), which is never
loaded whole. Sample weights and class weights, as Keras reads them."""
import math
import numbers

import numpy as np

from ..errors import ClearCNNError, check_int, fail, is_sequence, real_array


class ArrayBatches:
    """Batches of in-memory arrays, reshuffled at every epoch when `rng` is given."""

    def __init__(self, x, y, batch_size, rng=None, weights=None):
        self.x, self.y, self.batch_size, self.rng, self.weights = x, y, batch_size, rng, weights

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def __iter__(self):
        n = len(self.x)
        order = self.rng.permutation(n) if self.rng is not None else None
        for start in range(0, n, self.batch_size):
            index = slice(start, start + self.batch_size) if order is None else order[start:start + self.batch_size]
            yield (self.x[index], None if self.y is None else self.y[index],
                   None if self.weights is None else self.weights[index])


class DatasetBatches:
    """An iterable that yields batches as Keras reads them: x, (x,), (x, y) or (x, y, sample_weight)."""

    def __init__(self, dataset, where):
        self.dataset, self.where = dataset, where

    def __len__(self):
        try:
            return len(self.dataset)
        except TypeError:
            return 0

    def __iter__(self):
        for batch in self.dataset:
            if not isinstance(batch, (tuple, list)):
                yield batch, None, None
            elif len(batch) in (1, 2, 3):
                yield tuple(batch) + (None,) * (3 - len(batch))
            else:
                raise ClearCNNError(f"{self.where}: a dataset must yield x, (x,), (x, y) or (x, y, sample_weight) "
                                    f"batches; received a batch of {len(batch)} items.")


def labels(model, y, count):
    """Labels `y` as an array of `count` real numbers (or bools), or ClearCNNError naming what would work."""
    if y is None:
        raise ClearCNNError(f"{model.where}: labels `y` are required for training and evaluation; received y=None. "
                            f"Pass y, or a dataset that yields (x, y) batches.")
    y = real_array(y, model.where, "labels `y`", "biuf", " Class labels are integers from 0; map class names to "
                   "integers first, e.g. with np.unique(y, return_inverse=True).")
    if y.ndim == 0 or len(y) != count:
        received = f"{len(y)} labels" if y.ndim else f"labels of shape {y.shape}"
        raise ClearCNNError(f"{model.where}: `x` and `y` must hold the same number of samples; received {count} "
                            f"inputs and {received}.")
    return y


def sample_weights(model, weights, count, argument="sample_weight"):
    """One finite non-negative weight per sample, (count,) or (count, 1), as a float array (count,); None stays."""
    if weights is None:
        return None
    weights = real_array(weights, model.where, f"argument `{argument}`")
    if weights.ndim == 2 and weights.shape[1] == 1:
        weights = weights[:, 0]
    if weights.shape != (count,) or not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ClearCNNError(f"{model.where}: argument `{argument}` must hold one finite non-negative weight per "
                            f"sample, shape ({count},); received an array of shape {weights.shape}"
                            f"{'' if weights.shape != (count,) else ' with a negative or non-finite weight'}.")
    return weights.astype(np.float64)


def check_class_weight(class_weight, where="fit"):
    """None, or a dict of class index -> finite non-negative weight (as Keras's fit takes it)."""
    if class_weight is None:
        return None
    good = isinstance(class_weight, dict) and all(
        isinstance(k, numbers.Integral) and not isinstance(k, (bool, np.bool_)) and k >= 0 and
        isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) and math.isfinite(v) and v >= 0
        for k, v in class_weight.items())
    if not good:
        fail(where, "class_weight", class_weight, "None or a dict from class index to a non-negative weight, such "
             "as {0: 1.0, 1: 5.0} to count each sample of class 1 five times")
    return {int(k): float(v) for k, v in class_weight.items()}


def class_weighted(y, class_weight):
    """Each sample's weight from its class, as Keras: integer labels (N,) or (N, 1), or one-hot rows (their
    argmax); classes missing from `class_weight` weigh 1."""
    y = np.asarray(y)
    if y.ndim > 1:
        y = y.argmax(axis=-1) if y.shape[-1] != 1 else y[..., 0]
    classes = np.round(y).astype(np.int64).reshape(len(y))
    return np.array([class_weight.get(int(c), 1.0) for c in classes])


def as_batches(model, x, y, batch_size=None, shuffle=False, rng=None, argument="x", sample_weight=None):
    if batch_size is not None:
        check_int(batch_size, model.where, "batch_size", "a positive integer such as 32", 1)
    if x is None:
        raise ClearCNNError(f"{model.where}: input `{argument}` is required; received {argument}=None.")
    if isinstance(x, (np.ndarray, list)) or np.isscalar(x) and not isinstance(x, (str, bytes)):
        x = model.check_input(x, argument)
        if y is not None:
            y = labels(model, y, len(x))
        if len(x) == 0:
            raise ClearCNNError(f"{model.where}: input `{argument}` holds no samples; received shape {x.shape}.")
        return ArrayBatches(x, y, batch_size or 32, rng if shuffle else None, sample_weights(model, sample_weight,
                                                                                              len(x)))
    if not is_sequence(x):
        fail(model.where, argument, x, "an array or a dataset of (x, y) batches")
    if y is not None:
        raise ClearCNNError(f"{model.where}: when `{argument}` is a dataset it already holds the labels; "
                            f"received y as well.")
    if sample_weight is not None:
        raise ClearCNNError(f"{model.where}: when `{argument}` is a dataset its batches hold the sample weights, "
                            f"as (x, y, sample_weight); received sample_weight as well.")
    return DatasetBatches(x, model.where)


def split_validation(model, x, y, fraction, weights=None):
    """Keras's rule: the last `fraction` of the samples (and of their weights), taken before any shuffling."""
    if not isinstance(x, (np.ndarray, list)):
        raise ClearCNNError("fit: argument `validation_split` works only with arrays; for a dataset pass "
                            "validation_data, or use image_dataset_from_directory(validation_split=...).")
    x = model.check_input(x)
    y = labels(model, y, len(x))
    cut = int(len(x) * (1 - fraction))
    if cut == 0 or cut == len(x):
        raise ClearCNNError(f"fit: argument `validation_split` leaves no samples on one side with {len(x)} "
                            f"samples; received validation_split={fraction!r}.")
    if weights is not None:
        weights = sample_weights(model, weights, len(x))
        return x[:cut], y[:cut], weights[:cut], (x[cut:], y[cut:], weights[cut:])
    return x[:cut], y[:cut], None, (x[cut:], y[cut:])
