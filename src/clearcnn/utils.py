"""Reproducibility (one random generator behind initialisation, shuffling and dropout), and names."""
import re

import numpy as np

_generator = np.random.default_rng()


def set_random_seed(seed):
    """Make initialisation, shuffling and dropout identical from run to run (keras.utils.set_random_seed)."""
    global _generator
    _generator = np.random.default_rng(seed)


def random_generator(seed=None):
    """The shared generator, or a private one when an explicit seed is given."""
    return _generator if seed is None else np.random.default_rng(seed)


def to_snake_case(name):
    """Keras's rule, used for layer names and the keys of Keras weight files: "MaxPooling2D" -> "max_pooling2d"."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()
