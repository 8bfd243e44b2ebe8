"""Keras-style layers: `from clearcnn.layers import Conv2D, MaxPooling2D, Flatten, Dense`."""
from .base import Layer, Weight
from .convolutional import Conv2D
from .core import Activation, Dense, Dropout, Flatten, Input, InputLayer, Rescaling
from .pooling import AveragePooling2D, AvgPool2D, MaxPool2D, MaxPooling2D

Convolution2D = Conv2D
