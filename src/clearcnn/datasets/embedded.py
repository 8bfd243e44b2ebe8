"""The data set that ships inside the package: 10,000 real MNIST digits (credit in clearcnn/data/README.md)."""
from importlib import resources

import numpy as np


def load_mnist10k():
    """10,000 MNIST digits, split 8,000 / 2,000, in the form of `keras.datasets.mnist.load_data()`.

    Returns `((x_train, y_train), (x_test, y_test))`: `x` uint8 of shape (N, 28, 28) with values 0-255,
    `y` uint8 of shape (N,) with values 0-9. Nothing is downloaded: the file ships with clearcnn.

    >>> (x_train, y_train), (x_test, y_test) = load_mnist10k()
    >>> x_train.shape, y_test.shape, x_train.dtype.name
    ((8000, 28, 28), (2000,), 'uint8')
    """
    source = resources.files("clearcnn") / "data" / "mnist10k.npz"
    with resources.as_file(source) as path, np.load(path, allow_pickle=False) as data:
        return (data["x_train"], data["y_train"]), (data["x_test"], data["y_test"])
