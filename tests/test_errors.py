"""Every user mistake raises ClearCNNError (a ValueError) whose message names the layer, the argument
and the value received (SPEC section 5)."""
import numpy as np
import pytest

import clearcnn
from clearcnn import ClearCNNError, initializers
from clearcnn.layers import Activation, AveragePooling2D, Conv2D, Dense, Dropout, Flatten, Input, MaxPooling2D


def built(layer, shape):
    layer(np.zeros(shape, np.float32))
    return layer


# (mistake, the layer or function named, fragments the message must hold: argument and received value)
MISTAKES = {
    "filters=0": (lambda: Conv2D(0, 3), "Conv2D", ["`filters`", "filters=0"]),
    "filters='8'": (lambda: Conv2D("8", 3), "Conv2D", ["`filters`", "filters='8'"]),
    "kernel_size=0": (lambda: Conv2D(8, 0), "Conv2D", ["`kernel_size`", "kernel_size=0"]),
    "kernel_size=(3,3,3)": (lambda: Conv2D(8, (3, 3, 3)), "Conv2D", ["`kernel_size`", "kernel_size=(3, 3, 3)"]),
    "kernel_size=2.5": (lambda: Conv2D(8, 2.5), "Conv2D", ["`kernel_size`", "kernel_size=2.5"]),
    "strides=0": (lambda: Conv2D(8, 3, strides=0), "Conv2D", ["`strides`", "strides=0"]),
    "strides=-1": (lambda: Conv2D(8, 3, strides=-1), "Conv2D", ["`strides`", "strides=-1"]),
    "padding='full'": (lambda: Conv2D(8, 3, padding="full"), "Conv2D", ["`padding`", "padding='full'"]),
    "padding=-1": (lambda: Conv2D(8, 3, padding=-1), "Conv2D", ["`padding`", "padding=-1"]),
    "padding=(1,2,3)": (lambda: Conv2D(8, 3, padding=(1, 2, 3)), "Conv2D", ["`padding`", "padding=(1, 2, 3)"]),
    "dilation_rate=0": (lambda: Conv2D(8, 3, dilation_rate=0), "Conv2D", ["`dilation_rate`", "dilation_rate=0"]),
    "activation='relux'": (lambda: Conv2D(8, 3, activation="relux"), "Conv2D",
                           ["`activation`", "activation='relux'", "relu"]),
    "kernel_initializer='nope'": (lambda: Conv2D(8, 3, kernel_initializer="nope"), "Conv2D",
                                  ["`kernel_initializer`", "kernel_initializer='nope'", "glorot_uniform"]),
    "bias_initializer=3": (lambda: Dense(8, bias_initializer=3), "Dense", ["`bias_initializer`", "bias_initializer=3"]),
    "use_bias='yes'": (lambda: Conv2D(8, 3, use_bias="yes"), "Conv2D", ["`use_bias`", "use_bias='yes'"]),
    "data_format='channels_first'": (lambda: Conv2D(8, 3, data_format="channels_first"), "Conv2D",
                                     ["`data_format`", "data_format='channels_first'", "channels_last"]),
    "groups=2": (lambda: Conv2D(8, 3, groups=2), "Conv2D", ["`groups`", "groups=2"]),
    "kernel_regularizer='l3'": (lambda: Conv2D(8, 3, kernel_regularizer="l3"), "Conv2D",
                                ["`kernel_regularizer`", "kernel_regularizer='l3'", "l1_l2"]),
    "dtype='int32'": (lambda: Conv2D(8, 3, dtype="int32"), "Conv2D", ["`dtype`", "dtype='int32'"]),
    "input_shape=(-1,3)": (lambda: Conv2D(8, 3, input_shape=(-1, 3)), "Conv2D",
                           ["`input_shape`", "input_shape=(-1, 3)"]),
    "unknown keyword": (lambda: Conv2D(8, 3, kernel_sise=3), "Conv2D", ["`kernel_sise`", "kernel_sise=3"]),
    "Dense units=0": (lambda: Dense(0), "Dense", ["`units`", "units=0"]),
    "Dense units=True": (lambda: Dense(True), "Dense", ["`units`", "units=True"]),
    "Dropout rate=1.5": (lambda: Dropout(1.5), "Dropout", ["`rate`", "rate=1.5"]),
    "Dropout rate=-0.1": (lambda: Dropout(-0.1), "Dropout", ["`rate`", "rate=-0.1"]),
    "Dropout seed='x'": (lambda: Dropout(0.5, seed="x"), "Dropout", ["`seed`", "seed='x'"]),
    "pool_size=0": (lambda: MaxPooling2D(pool_size=0), "MaxPooling2D", ["`pool_size`", "pool_size=0"]),
    "pool strides=(2,0)": (lambda: AveragePooling2D(2, strides=(2, 0)), "AveragePooling2D",
                           ["`strides`", "strides=(2, 0)"]),
    "pool padding as large as the pool": (lambda: AveragePooling2D(2, padding=((2, 0), (0, 0))), "AveragePooling2D",
                                          ["`padding`", "padding=((2, 0), (0, 0))", "pool_size"]),
    "Activation('nope')": (lambda: Activation("nope"), "Activation", ["`activation`", "activation='nope'"]),
    "Input without shape": (lambda: Input(), "InputLayer", ["`shape`", "shape=None"]),
    "2-D image to Conv2D": (lambda: Conv2D(2, 3)(np.zeros((6, 6))), "Conv2D", ["input", "4 dimensions", "(6, 6)"]),
    "image without batch axis": (lambda: Conv2D(2, 3)(np.zeros((6, 6, 3))), "Conv2D",
                                 ["input", "4 dimensions", "(6, 6, 3)"]),
    "4-D input to Dense": (lambda: Dense(4)(np.zeros((2, 3, 3, 1))), "Dense", ["input", "(2, 3, 3, 1)", "Flatten"]),
    "channel mismatch after build": (lambda: built(Conv2D(2, 3), (1, 6, 6, 3))(np.zeros((1, 6, 6, 4))), "Conv2D",
                                     ["3 channels", "(1, 6, 6, 4)"]),
    "feature mismatch after build": (lambda: built(Dense(2), (1, 6))(np.zeros((1, 5))), "Dense",
                                     ["(batch, 6)", "(1, 5)"]),
    "set_weights wrong shape": (lambda: built(Conv2D(4, 3), (1, 6, 6, 3)).set_weights(
        [np.zeros((2, 2, 3, 4)), np.zeros(4)]), "Conv2D", ["kernel", "(3, 3, 3, 4)", "(2, 2, 3, 4)"]),
    "set_weights wrong count": (lambda: built(Conv2D(4, 3), (1, 6, 6, 3)).set_weights([np.zeros((3, 3, 3, 4))]),
                                "Conv2D", ["set_weights", "2 arrays", "received 1"]),
    "kernel larger than padded input": (lambda: Conv2D(2, 7)(np.zeros((1, 5, 5, 1))), "Conv2D",
                                        ["kernel (7 pixels)", "padded input (5 + 0 pixels)", "padding"]),
    "pool larger than padded input": (lambda: MaxPooling2D((2, 6))(np.zeros((1, 4, 5, 1))), "MaxPooling2D",
                                      ["width", "6 pixels", "5 + 0 pixels"]),
    "complex input": (lambda: Conv2D(2, 3)(np.zeros((1, 5, 5, 1), complex)), "Conv2D", ["input", "complex128"]),
    "text input": (lambda: Dense(2)(np.array([["a", "b"]])), "Dense", ["input", "<U1"]),
    "Flatten of a 1-D array": (lambda: Flatten()(np.zeros(5)), "Flatten", ["input", "batch axis"]),
    "output_size stride=0": (lambda: clearcnn.output_size(6, 3, 0), "size_report", ["`stride`", "stride=0"]),
    "output_size padding=-1": (lambda: clearcnn.output_size(6, 3, 1, -1), "size_report", ["`padding`", "padding=-1"]),
    "output_size kernel larger": (lambda: clearcnn.output_size(3, 5), "window", ["kernel (5 pixels)", "3 + 0"]),
    "initializer name": (lambda: initializers.get("nope"), "layer", ["`kernel_initializer`", "'nope'"]),
}


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_mistake_raises_clear_error(mistake):
    action, where, fragments = MISTAKES[mistake]
    with pytest.raises(ClearCNNError) as info:
        action()
    message = str(info.value)
    assert message.startswith(where), message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} missing from: {message}"


def test_there_are_at_least_15_distinct_mistakes():
    assert len(MISTAKES) >= 15


def test_the_error_type_is_a_value_error():
    assert issubclass(ClearCNNError, ValueError)
    with pytest.raises(ValueError):
        Conv2D(0, 3)


def test_messages_say_what_would_work():
    with pytest.raises(ClearCNNError, match="positive integer"):
        Conv2D(8, 3, strides=0)
    with pytest.raises(ClearCNNError, match='"valid", "same"'):
        MaxPooling2D(padding="full")
    with pytest.raises(ClearCNNError, match=r"\[0, 1\)"):
        Dropout(1.0)
    with pytest.raises(ClearCNNError, match='padding="same"'):
        Conv2D(2, 7)(np.zeros((1, 5, 5, 1)))


def test_valid_edge_cases_are_accepted():
    """The checks reject mistakes, not unusual but valid settings."""
    assert Conv2D(2, 5, padding="same")(np.zeros((1, 3, 3, 1))).shape == (1, 3, 3, 2)
    assert Conv2D(2, 7, padding=1)(np.zeros((1, 5, 5, 1))).shape == (1, 1, 1, 2)
    assert MaxPooling2D(2, padding=1)(np.zeros((1, 4, 4, 1))).shape == (1, 3, 3, 1)
    assert Dropout(np.float32(0.5)).rate == 0.5
    assert Dropout(0.5, seed=np.int64(3)).seed == 3
    assert Conv2D(np.int64(4), (np.int64(3), 3)).filters == 4
    assert Conv2D(2, 3, padding="SAME").padding == "same"
