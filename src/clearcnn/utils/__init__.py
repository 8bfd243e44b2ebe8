"""keras.utils for clearcnn: reproducibility, labels, images and image folders.

    set_random_seed                  one seed for initialisation, shuffling and dropout
    to_categorical, normalize        one-hot labels, unit-norm rows
    load_img, img_to_array,          one image file in and out (Pillow, imported when first used)
    array_to_img, save_img
    image_dataset_from_directory     a folder of class sub-folders as batches (clearcnn.datasets)
"""
from .. import _namespaces
from ..datasets.images import image_dataset_from_directory
from .arrays import normalize, to_categorical
from .images import array_to_img, img_to_array, load_img, save_img
from .naming import to_snake_case
from .rng import random_generator, set_random_seed

__all__ = ["set_random_seed", "to_categorical", "normalize", "load_img", "img_to_array", "array_to_img", "save_img",
           "image_dataset_from_directory"]
__getattr__ = _namespaces.missing(__name__, __all__)
