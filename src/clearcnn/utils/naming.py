"""Keras's names for classes in files and configs."""
import re


def to_snake_case(name):
    """Keras's rule, used for layer names and the keys of Keras weight files: "MaxPooling2D" -> "max_pooling2d"."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()
