"""Turning what fit, evaluate and predict receive into batches: arrays, or any iterable of (x, y) batches
(such as clearcnn.datasets.image_dataset_from_directory), which is never loaded whole."""
import math

import numpy as np

from ..errors import ClearCNNError, check_int, fail, is_sequence, real_array


class ArrayBatches:
    """Batches of in-memory arrays, reshuffled at every epoch when `rng` is given."""

    def __init__(self, x, y, batch_size, rng=None):
        self.x, self.y, self.batch_size, self.rng = x, y, batch_size, rng

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def __iter__(self):
        n = len(self.x)
        order = self.rng.permutation(n) if self.rng is not None else None
        for start in range(0, n, self.batch_size):
            index = slice(start, start + self.batch_size) if order is None else order[start:start + self.batch_size]
            yield self.x[index], None if self.y is None else self.y[index]


class DatasetBatches:
    """An iterable that yields batches as Keras reads them: x, (x,), (x, y) or (x, y, None) (no sample weights)."""

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
                yield batch, None
            elif len(batch) in (1, 2) or (len(batch) == 3 and batch[2] is None):
                yield batch[0], batch[1] if len(batch) > 1 else None
            else:
                weights = " (sample weights are not supported)" if len(batch) == 3 else ""
                raise ClearCNNError(f"{self.where}: a dataset must yield x, (x,) or (x, y) batches; received a batch "
                                    f"of {len(batch)} items{weights}.")


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


def as_batches(model, x, y, batch_size=None, shuffle=False, rng=None, argument="x"):
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
        return ArrayBatches(x, y, batch_size or 32, rng if shuffle else None)
    if not is_sequence(x):
        fail(model.where, argument, x, "an array or a dataset of (x, y) batches")
    if y is not None:
        raise ClearCNNError(f"{model.where}: when `{argument}` is a dataset it already holds the labels; "
                            f"received y as well.")
    return DatasetBatches(x, model.where)


def split_validation(model, x, y, fraction):
    """Keras's rule: the last `fraction` of the samples, taken before any shuffling."""
    if not isinstance(x, (np.ndarray, list)):
        raise ClearCNNError("fit: argument `validation_split` works only with arrays; for a dataset pass "
                            "validation_data, or use image_dataset_from_directory(validation_split=...).")
    x = model.check_input(x)
    y = labels(model, y, len(x))
    cut = int(len(x) * (1 - fraction))
    if cut == 0 or cut == len(x):
        raise ClearCNNError(f"fit: argument `validation_split` leaves no samples on one side with {len(x)} "
                            f"samples; received validation_split={fraction!r}.")
    return x[:cut], y[:cut], (x[cut:], y[cut:])
