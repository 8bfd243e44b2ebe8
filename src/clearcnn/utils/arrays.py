"""keras.utils's array helpers: one-hot labels and normalised rows.

>>> to_categorical([0, 2, 1]).tolist()
[[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]
>>> normalize([[3.0, 4.0]]).tolist()
[[0.6, 0.8]]
"""
import numpy as np

from ..errors import ClearCNNError, check_int, real_array


def to_categorical(x, num_classes=None):
    """Class indices -> one-hot rows (float64, as Keras's NumPy path): a trailing axis of size 1 is dropped first,
    so labels of shape (N,) and (N, 1) both give (N, num_classes). num_classes defaults to max(x) + 1."""
    where = "to_categorical"
    x = real_array(x, where, "argument `x` (class indices)", kinds="biu" if np.asarray(x).dtype.kind != "f" else "f")
    if x.dtype.kind == "f" and not np.array_equal(x, np.round(x)):
        raise ClearCNNError(f"{where}: argument `x` must hold class indices (whole numbers); received floats such as "
                            f"{x[x != np.round(x)].ravel()[0]!r}.")
    x = x.astype(np.int64)
    shape = x.shape[:-1] if x.ndim > 1 and x.shape[-1] == 1 else x.shape
    x = x.reshape(-1)
    if x.size and x.min() < 0:
        raise ClearCNNError(f"{where}: argument `x` must hold class indices from 0; received {int(x.min())}.")
    if num_classes is None:
        if not x.size:
            raise ClearCNNError(f"{where}: argument `num_classes` is needed for empty labels; received none.")
        num_classes = int(x.max()) + 1
    num_classes = check_int(num_classes, where, "num_classes", "a positive integer such as 10", 1)
    if x.size and x.max() >= num_classes:
        raise ClearCNNError(f"{where}: class index {int(x.max())} is out of range for num_classes={num_classes}; "
                            f"indices run from 0 to num_classes - 1.")
    categorical = np.zeros((x.size, num_classes))
    categorical[np.arange(x.size), x] = 1
    return categorical.reshape(shape + (num_classes,))


def normalize(x, axis=-1, order=2):
    """x divided by its `order`-norm along `axis` (zero norms left as they are), as keras.utils.normalize."""
    x = real_array(x, "normalize", "argument `x`").astype(np.float64 if np.asarray(x).dtype != np.float32 else
                                                          np.float32, copy=False)
    norm = np.atleast_1d(np.linalg.norm(x, order, axis))
    norm[norm == 0] = 1
    return x / np.expand_dims(norm, -1 if axis is None else axis)  # Keras's `axis or -1` breaks axis=0
