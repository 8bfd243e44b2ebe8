"""Central-difference gradient checks, in float64, for every layer: inputs and parameters.

The loss is a random projection sum(y * R), so every output element matters. Each analytic gradient
(layer.backward on the internal layout) is compared with (L(v + eps) - L(v - eps)) / (2 eps) for
every single input and parameter element; the relative error max|analytic - numeric| / max|numeric|
must stay below 1e-6.
"""
import zlib

import numpy as np
import pytest
from reference import ACTIVATION_NAMES, CONV_GRID, POOL_GRID, conv_id, distinct_values, pool_id

from clearcnn.layers import Activation, AveragePooling2D, Conv2D, Dense, Dropout, Flatten, MaxPooling2D
from clearcnn.ops import get_activation, swap_batch_axis

pytestmark = pytest.mark.usefixtures("engine_backend")  # NumPy and compiled kernels alike

EPS = 1e-6
TOL = 1e-6
KINKED = ("relu", "leaky_relu", "elu")


def numeric_grad(loss, array):
    """Central differences of loss() with respect to every element of `array` (changed in place, restored)."""
    grad = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        old = array[index]
        array[index] = old + EPS
        up = loss()
        array[index] = old - EPS
        down = loss()
        array[index] = old
        grad[index] = (up - down) / (2 * EPS)
    return grad


def assert_grad_close(analytic, numeric, what):
    assert analytic.shape == numeric.shape, what
    scale = np.abs(numeric).max()
    assert scale > 1e-3, f"{what}: numeric gradient is (almost) zero, the check would prove nothing"
    error = np.abs(analytic - numeric).max() / scale
    assert error < TOL, f"{what}: relative error {error:.2e}"


def check_layer(layer, x_public, rng, training=False, fresh=None):
    """Gradcheck `layer` (already built, float64) at input x_public for the input and every weight.

    `fresh`, when given, returns the layer to use for each loss evaluation (for Dropout, whose mask
    is drawn at each forward pass: a fresh layer with the same seed draws the same mask).
    """
    x = swap_batch_axis(np.asarray(x_public, np.float64))
    y = layer.forward(x, training)
    r = rng.standard_normal(y.shape)
    dx = layer.backward(r.copy())
    analytic = [w.grad.copy() for w in layer.weights]

    def loss():
        current = fresh() if fresh else layer
        return float(np.sum(current.forward(x, training) * r))

    assert_grad_close(dx, numeric_grad(loss, x), f"{layer.name} input")
    for weight, grad in zip(layer.weights, analytic):
        assert_grad_close(grad, numeric_grad(loss, weight.value), weight.name)
    return y


def pre_activation_margin(layer, x_public):
    """Smallest |z| before the activation: central differences are only valid away from kinks at 0."""
    saved, layer.activation = layer.activation, get_activation("linear")
    try:
        z = layer.forward(swap_batch_axis(x_public), False)
    finally:
        layer.activation = saved
    return np.abs(z).min()


@pytest.mark.parametrize("cfg", CONV_GRID, ids=conv_id)
def test_conv2d_gradients(cfg):
    rng = np.random.default_rng(zlib.crc32(conv_id(cfg).encode()))
    layer = Conv2D(cfg["cout"], cfg["kernel"], strides=cfg["strides"], padding=cfg["padding"],
                   dilation_rate=cfg["dilation"], activation=cfg["activation"], use_bias=cfg["use_bias"],
                   dtype="float64")
    shape = (cfg["batch"], *cfg["hw"], cfg["cin"])
    layer.build((None, *shape[1:]))
    for _ in range(20):  # redraw until no pre-activation value sits near a kink
        x = rng.standard_normal(shape)
        layer.set_weights([rng.standard_normal(w.shape) * 0.5 for w in layer.weights])
        if cfg["activation"] not in KINKED or pre_activation_margin(layer, x) > 1e-4:
            break
    else:
        pytest.fail("could not draw inputs away from the activation's kink")
    check_layer(layer, x, rng)


@pytest.mark.parametrize("cfg", POOL_GRID, ids=pool_id)
@pytest.mark.parametrize("kind", [MaxPooling2D, AveragePooling2D])
def test_pooling_gradients(kind, cfg):
    rng = np.random.default_rng(7)
    layer = kind(cfg["pool_size"], strides=cfg["strides"], padding=cfg["padding"], dtype="float64")
    x = distinct_values((cfg["batch"], *cfg["hw"], cfg["channels"]), rng)  # distinct: no max ties
    layer.build((None, *x.shape[1:]))
    check_layer(layer, x, rng)


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_dense_gradients(activation):
    rng = np.random.default_rng(3)
    layer = Dense(9, activation=activation, dtype="float64")
    layer.build((None, 11))
    for _ in range(20):
        x = rng.standard_normal((3, 11))
        layer.set_weights([rng.standard_normal(w.shape) * 0.5 for w in layer.weights])
        if activation not in KINKED or pre_activation_margin(layer, x) > 1e-4:
            break
    else:
        pytest.fail("could not draw inputs away from the activation's kink")
    check_layer(layer, x, rng)


def test_dense_without_bias_gradients():
    rng = np.random.default_rng(4)
    layer = Dense(4, use_bias=False, activation="tanh", dtype="float64")
    layer.build((None, 6))
    layer.set_weights([rng.standard_normal((6, 4))])
    check_layer(layer, rng.standard_normal((2, 6)), rng)


@pytest.mark.parametrize("shape", [(2, 4, 5, 3), (3, 7)], ids=["image", "vector"])
@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_activation_layer_gradients(activation, shape):
    rng = np.random.default_rng(5)
    x = rng.standard_normal(shape)
    x[np.abs(x) < 1e-3] = 0.5  # away from the kinks of relu, leaky_relu and elu
    layer = Activation(activation, dtype="float64")
    layer.build((None, *shape[1:]))
    check_layer(layer, x, rng)


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (3, 6), (2, 3, 5)])
def test_flatten_gradients(shape):
    rng = np.random.default_rng(6)
    layer = Flatten(dtype="float64")
    layer.build((None, *shape[1:]))
    check_layer(layer, rng.standard_normal(shape), rng)


@pytest.mark.parametrize("shape", [(3, 2, 4, 5), (4, 10)])
def test_dropout_training_gradients(shape):
    rng = np.random.default_rng(8)
    x = rng.standard_normal(shape)
    fresh = lambda: Dropout(0.4, seed=1234, dtype="float64")  # noqa: E731 - same seed, same mask
    layer = fresh()
    layer.build((None, *shape[1:]))
    y = swap_batch_axis(check_layer(layer, x, rng, training=True, fresh=fresh))
    dropped = y == 0
    assert dropped.any() and not dropped.all(), "the mask should drop some units and keep others"
    np.testing.assert_allclose(y[~dropped], x[~dropped] / 0.6, rtol=1e-12)
