"""Turning what fit, evaluate and predict receive into batches: arrays, or any iterable of (x, y) batches
(such as clearcnn.datasets.image_dataset_from_directory), which is never loaded whole."""
import math

import numpy as np

from ..errors import ClearCNNError


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
    """An iterable that yields (x, y) batches, or bare x batches for prediction."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self):
        try:
            return len(self.dataset)
        except TypeError:
            return 0

    def __iter__(self):
        for batch in self.dataset:
            yield tuple(batch[:2]) if isinstance(batch, (tuple, list)) else (batch, None)


def as_batches(model, x, y, batch_size=None, shuffle=False, rng=None):
    if x is None:
        raise ClearCNNError(f"Sequential '{model.name}': input `x` is required; received x=None.")
    if isinstance(x, (np.ndarray, list)) or np.isscalar(x):
        if batch_size is None:
            batch_size = 32
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
            raise ClearCNNError(f"Sequential '{model.name}': argument `batch_size` must be a positive integer "
                                f"such as 32; received batch_size={batch_size!r}.")
        x = model.check_input(x)
        if y is not None:
            y = np.asarray(y)
            if len(y) != len(x):
                raise ClearCNNError(f"Sequential '{model.name}': `x` and `y` must hold the same number of samples; "
                                    f"received {len(x)} inputs and {len(y)} labels.")
        if len(x) == 0:
            raise ClearCNNError(f"Sequential '{model.name}': input `x` holds no samples; received shape {x.shape}.")
        return ArrayBatches(x, y, int(batch_size), rng if shuffle else None)
    if y is not None:
        raise ClearCNNError(f"Sequential '{model.name}': when `x` is a dataset it already holds the labels; "
                            f"received y as well.")
    if not hasattr(x, "__iter__"):
        raise ClearCNNError(f"Sequential '{model.name}': input `x` must be an array or a dataset of (x, y) "
                            f"batches; received {type(x).__name__}.")
    return DatasetBatches(x)


def split_validation(x, y, fraction):
    """Keras's rule: the last `fraction` of the samples, taken before any shuffling."""
    if not isinstance(x, (np.ndarray, list)):
        raise ClearCNNError("fit: argument `validation_split` works only with arrays; for a dataset pass "
                            "validation_data, or use image_dataset_from_directory(validation_split=...).")
    x, y = np.asarray(x), np.asarray(y)
    cut = int(len(x) * (1 - fraction))
    if cut == 0 or cut == len(x):
        raise ClearCNNError(f"fit: argument `validation_split` leaves no samples on one side with {len(x)} "
                            f"samples; received validation_split={fraction!r}.")
    return x[:cut], y[:cut], (x[cut:], y[cut:])
