"""Data sets: the embedded MNIST-10k, MNIST-style IDX files, CIFAR-10 python batches and image folders."""
from .. import _namespaces
from .cifar import load_cifar10
from .embedded import load_mnist10k
from .idx import load_idx
from .images import ImageDataset, image_dataset_from_directory, load_image_folder

__all__ = ["load_mnist10k", "load_idx", "load_cifar10", "image_dataset_from_directory", "load_image_folder",
           "ImageDataset"]
__getattr__ = _namespaces.missing(__name__)
