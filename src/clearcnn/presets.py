"""Ready-made networks: the seed network (a classic small tutorial CNN), a CIFAR-10 network, the default
digit classifier that `clearcnn train` uses, and a network for your own photos. Each starts with Rescaling(1/255)
(the photo network with its augmentation before it), so models take raw 0-255 pixels, and ends with a softmax
over the classes."""
from .errors import ClearCNNError
from .layers import (
    Activation,
    BatchNormalization,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAveragePooling2D,
    InputLayer,
    MaxPooling2D,
    RandomFlip,
    RandomRotation,
    Rescaling,
)
from .models import Sequential

DEFAULT_INPUT = {"default": (28, 28, 1), "seed": (32, 32, 3), "cifar": (32, 32, 3), "photo": (128, 128, 3)}
DEFAULT_CLASSES = {"default": 10, "seed": 3, "cifar": 10, "photo": 2}


def seed_layers(classes):
    """The seed network: two conv and pooling stages, then two dense layers."""
    return [Conv2D(6, (3, 3), padding="valid", activation="relu", strides=1), MaxPooling2D((3, 3), strides=1),
            Conv2D(16, (5, 5), padding="valid", activation="relu", strides=1), MaxPooling2D((3, 3), strides=1),
            Flatten(), Dense(120, activation="relu"), Dense(classes, activation="softmax")]


def cifar_layers(classes):
    return [Conv2D(32, 3, padding="same", activation="relu"), Conv2D(32, 3, activation="relu"), MaxPooling2D(2),
            Conv2D(64, 3, padding="same", activation="relu"), Conv2D(64, 3, activation="relu"), MaxPooling2D(2),
            Flatten(), Dense(512, activation="relu"), Dense(classes, activation="softmax")]


def default_layers(classes):
    """A small network that reaches about 98.6% on the embedded digits in five epochs of `clearcnn train`.

    On 28x28 every window fits exactly (28 -> 24 -> 12 -> 10 -> 5): no pixel is left uncovered. Dropout drops
    half of the features, as in Keras's MNIST example: 8,000 digits are few for the dense layer's 200,000
    weights."""
    return [Conv2D(32, 5, activation="relu"), MaxPooling2D(2), Conv2D(64, 3, activation="relu"), MaxPooling2D(2),
            Flatten(), Dropout(0.5), Dense(128, activation="relu"), Dense(classes, activation="softmax")]


def conv_bn_relu(filters, **kwargs):
    """A 3x3 "same" Conv2D, BatchNormalization, then ReLU."""
    return [Conv2D(filters, 3, padding="same", **kwargs), BatchNormalization(), Activation("relu")]


def photo_layers(classes):
    """A network for a few hundred photos of a few classes, trained from scratch: conv -> batch norm -> ReLU
    stages, global average pooling instead of a large Flatten -> Dense, dropout before the classifier."""
    return [*conv_bn_relu(32, strides=2), *conv_bn_relu(64), MaxPooling2D(), *conv_bn_relu(128), MaxPooling2D(),
            *conv_bn_relu(256), GlobalAveragePooling2D(), Dropout(0.25), Dense(classes, activation="softmax")]


def photo_augmentation():
    """Applied in training only: a random mirror image and a turn of up to 36 degrees either way."""
    return [RandomFlip("horizontal"), RandomRotation(0.1)]


PRESETS = {"default": default_layers, "seed": seed_layers, "cifar": cifar_layers, "photo": photo_layers}
# Adam's learning rate at the start of `clearcnn train`, from which it decays to zero along a cosine: Keras's
# 0.001, but for the digit classifier, whose five epochs reach their best with a larger start.
LEARNING_RATES = {"default": 3e-3, "seed": 1e-3, "cifar": 1e-3, "photo": 1e-3}
AUGMENTATION = {"photo": photo_augmentation}  # layers before the Rescaling, on raw pixels


def build_preset(name, input_shape=None, classes=None):
    """A Sequential model for preset `name` ("default", "seed", "cifar" or "photo")."""
    if name not in PRESETS:
        raise ClearCNNError(f"build_preset: argument `name` must be one of {', '.join(PRESETS)}; received name={name!r}.")
    input_shape = tuple(input_shape or DEFAULT_INPUT[name])
    layers = [*AUGMENTATION.get(name, list)(), Rescaling(1 / 255), *PRESETS[name](classes or DEFAULT_CLASSES[name])]
    return Sequential([InputLayer(shape=input_shape), *layers], name=name)
