"""Reproducibility: one random generator behind initialisation, shuffling and dropout."""
import numpy as np

from ..errors import check_int

_generator = np.random.default_rng()


def set_random_seed(seed):
    """Make initialisation, shuffling and dropout identical from run to run (keras.utils.set_random_seed)."""
    global _generator
    _generator = np.random.default_rng(check_int(seed, "set_random_seed", "seed", "a non-negative integer such as 42"))


def random_generator(seed=None):
    """The shared generator, or a private one when an explicit seed is given."""
    return _generator if seed is None else np.random.default_rng(seed)
