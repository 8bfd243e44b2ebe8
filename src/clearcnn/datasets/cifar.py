"""CIFAR-10 "python version" batches, read without running code from the files.

Each batch (`data_batch_1` ... `data_batch_5`, `test_batch`) is a pickled dict: `data` a uint8 array
(N, 3072) holding every image channel-major (1,024 red values row by row, then green, then blue) and
`labels` a list of N integers 0-9. Pickle can call any function named in the file, so the files are read
by an unpickler that resolves only the few NumPy names an array needs and refuses everything else.
"""
import codecs
import os
import pickle

import numpy as np

from ..errors import ClearCNNError

TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
SUBFOLDER = "cifar-10-batches-py"
_SOURCE = "cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html"

_reconstruct = np.empty(0).__reduce__()[0]  # how NumPy rebuilds an array (protocols 0-4)
_frombuffer = np.empty(0).__reduce_ex__(5)[0]  # the same for protocol 5
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,  # NumPy 1 names
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,  # NumPy 2 names
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,  # how protocol 2 stores bytes written by Python 3
}


class _BatchUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild NumPy arrays, lists, dicts and strings, and nothing else."""

    def __init__(self, file, path):
        super().__init__(file, encoding="bytes")  # the original batches were written by Python 2
        self.path = path

    def find_class(self, module, name):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise ClearCNNError(
                f"load_cifar10: refusing to load class {module}.{name} from {self.path!r}: a CIFAR-10 batch "
                "holds only NumPy arrays, lists and strings, so this file is not one and was not run "
                f"(download {_SOURCE}).") from None

    def persistent_load(self, pid):
        raise ClearCNNError(f"load_cifar10: refusing a persistent reference in {self.path!r}: "
                            "a CIFAR-10 batch has none.")


def load_cifar10(directory):
    """Read the CIFAR-10 python batches in `directory` (or in its `cifar-10-batches-py/` folder).

    Returns `((x_train, y_train), (x_test, y_test))` like `keras.datasets.cifar10.load_data()`, except
    that `y` has shape (N,) rather than (N, 1): `x` uint8 (N, 32, 32, 3) channels_last, `y` uint8 0-9.
    Training data are `data_batch_1` to `data_batch_5` in order (50,000 images), test data `test_batch`.

    >>> (x_train, y_train), (x_test, y_test) = load_cifar10("cifar-10-batches-py")  # doctest: +SKIP
    """
    folder = os.fspath(directory)
    if not os.path.isdir(folder):
        raise ClearCNNError(f"load_cifar10: argument `directory` must be a folder holding the CIFAR-10 python "
                            f"batches (extracted from {_SOURCE}); received directory={folder!r}, "
                            "which is not a folder.")
    nested = os.path.join(folder, SUBFOLDER)
    if not os.path.exists(os.path.join(folder, TRAIN_BATCHES[0])) and os.path.isdir(nested):
        folder = nested
    names = TRAIN_BATCHES + (TEST_BATCH,)
    missing = [name for name in names if not os.path.isfile(os.path.join(folder, name))]
    if missing:
        raise ClearCNNError(f"load_cifar10: the folder {folder!r} lacks {', '.join(missing)}; it must hold "
                            f"{', '.join(names)} (extract {_SOURCE}).")
    train = [read_batch(os.path.join(folder, name)) for name in TRAIN_BATCHES]
    x_train = np.concatenate([x for x, _ in train])
    y_train = np.concatenate([y for _, y in train])
    return (x_train, y_train), read_batch(os.path.join(folder, TEST_BATCH))


def read_batch(path):
    """One batch file -> (x uint8 (N, 32, 32, 3), y uint8 (N,))."""
    try:
        with open(path, "rb") as file:
            batch = _BatchUnpickler(file, path).load()
    except ClearCNNError:
        raise
    except Exception as exc:  # a damaged pickle can fail in many ways; none of them runs foreign code
        raise ClearCNNError(f"load_cifar10: {path!r} is not a readable CIFAR-10 batch "
                            f"({type(exc).__name__}: {exc}); it is truncated or corrupt "
                            f"(download {_SOURCE} again).") from exc
    data, labels = _field(batch, "data", path), _field(batch, "labels", path)
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2 and data.shape[1] == 3072):
        found = f"{data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise ClearCNNError(f"load_cifar10: the `data` of {path!r} is a {found}; a CIFAR-10 batch holds a uint8 "
                            "array of shape (N, 3072): 32 x 32 pixels x 3 channels per image.")
    labels = np.asarray(labels)
    if labels.shape != (len(data),) or labels.dtype.kind not in "iu" or labels.size and not (
            labels.min() >= 0 and labels.max() <= 9):
        raise ClearCNNError(f"load_cifar10: the `labels` of {path!r} must be {len(data)} integers 0-9, one per "
                            f"image; found {labels.dtype} values of shape {labels.shape}.")
    x = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # channel-major -> (N, H, W, C)
    return np.ascontiguousarray(x), labels.astype(np.uint8)


def _field(batch, key, path):
    """batch[b"key"], or batch["key"] for files re-saved by Python 3."""
    if isinstance(batch, dict):
        for candidate in (key.encode(), key):
            if candidate in batch:
                return batch[candidate]
    found = sorted(map(repr, batch)) if isinstance(batch, dict) else type(batch).__name__
    raise ClearCNNError(f"load_cifar10: {path!r} is not a CIFAR-10 batch: expected a dict with keys "
                        f"b'data' and b'labels'; found {found}.")
