"""Keras-style layers: `from clearcnn.layers import Conv2D, MaxPooling2D, Flatten, Dense`."""
from .. import _namespaces, registry
from .augmentation import (
    CenterCrop,
    RandomBrightness,
    RandomContrast,
    RandomCrop,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
    Resizing,
)
from .base import Layer, Weight
from .convolutional import Conv2D
from .core import Activation, Dense, Dropout, Flatten, Input, InputLayer, Rescaling
from .normalization import BatchNormalization
from .pooling import (
    AveragePooling2D,
    AvgPool2D,
    GlobalAveragePooling2D,
    GlobalAvgPool2D,
    GlobalMaxPool2D,
    GlobalMaxPooling2D,
    MaxPool2D,
    MaxPooling2D,
)

Convolution2D = Conv2D

# The names model files may use for a layer (clearcnn.registry): each class's own name, and these aliases.
# The base Layer too: a model holding a bare Layer (it passes its input through) saves and loads.
registry.register(Layer, InputLayer, Conv2D, MaxPooling2D, AveragePooling2D, Flatten, Dense, Activation, Dropout,
                  Rescaling, BatchNormalization, GlobalAveragePooling2D, GlobalMaxPooling2D, Input=InputLayer,
                  Convolution2D=Conv2D, MaxPool2D=MaxPooling2D, AvgPool2D=AveragePooling2D,
                  GlobalAvgPool2D=GlobalAveragePooling2D, GlobalMaxPool2D=GlobalMaxPooling2D)
# Image augmentation and preprocessing (augmentation.py).
registry.register(RandomFlip, RandomRotation, RandomZoom, RandomTranslation, RandomContrast, RandomBrightness, RandomCrop,
                  Resizing, CenterCrop)
__getattr__ = _namespaces.missing(__name__)
