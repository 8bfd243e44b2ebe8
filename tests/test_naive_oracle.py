"""The engine against the naive per-output-pixel loops of reference.py, in float64 (no PyTorch needed).

Forward values go through the configured activation (reference.activation is written from the formulas);
gradients are compared on the linear layer, since activations have their own gradient checks.
"""
import numpy as np
import pytest
import reference
from reference import CONV_GRID, POOL_GRID, conv_id, distinct_values, pool_id

from clearcnn.layers import AveragePooling2D, Conv2D, MaxPooling2D
from clearcnn.ops import swap_batch_axis

pytestmark = pytest.mark.usefixtures("engine_backend")  # NumPy and compiled kernels alike


def make_conv(cfg, activation, rng):
    layer = Conv2D(cfg["cout"], cfg["kernel"], strides=cfg["strides"], padding=cfg["padding"],
                   dilation_rate=cfg["dilation"], activation=activation, use_bias=cfg["use_bias"], dtype="float64")
    layer.build((None, *cfg["hw"], cfg["cin"]))
    layer.set_weights([rng.standard_normal(w.shape) for w in layer.weights])
    return layer


@pytest.mark.parametrize("cfg", CONV_GRID, ids=conv_id)
def test_conv2d_matches_naive_loops(cfg):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((cfg["batch"], *cfg["hw"], cfg["cin"]))
    layer = make_conv(cfg, cfg["activation"], rng)
    kernel, bias = (layer.get_weights() + [None])[:2]
    z = reference.conv2d(x, kernel, bias, cfg["strides"], cfg["padding"], cfg["dilation"])
    y = layer(x)
    assert y.shape == z.shape
    np.testing.assert_allclose(y, reference.activation(cfg["activation"], z), rtol=1e-10, atol=1e-10)

    linear = make_conv(cfg, None, np.random.default_rng(11))
    linear.set_weights(layer.get_weights())
    linear(x)
    dy = rng.standard_normal(z.shape)
    dx = swap_batch_axis(linear.backward(swap_batch_axis(dy)))
    ref_dx, ref_dkernel, ref_dbias = reference.conv2d_grads(x, kernel, dy, cfg["strides"], cfg["padding"],
                                                            cfg["dilation"])
    np.testing.assert_allclose(dx, ref_dx, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(linear.kernel.grad, ref_dkernel, rtol=1e-10, atol=1e-10)
    if cfg["use_bias"]:
        np.testing.assert_allclose(linear.bias.grad, ref_dbias, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("cfg", POOL_GRID, ids=pool_id)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling_matches_naive_loops(kind, cfg):
    rng = np.random.default_rng(12)
    shape = (cfg["batch"], *cfg["hw"], cfg["channels"])
    # Max pooling also runs on integer-valued inputs with many ties: the gradient goes to the first maximum.
    x = distinct_values(shape, rng) if kind == "avg" else rng.integers(0, 3, shape).astype(np.float64)
    args = cfg["pool_size"], cfg["strides"], cfg["padding"]
    layer_cls, forward, grad = ((MaxPooling2D, reference.max_pool2d, reference.max_pool2d_grad) if kind == "max"
                                else (AveragePooling2D, reference.avg_pool2d, reference.avg_pool2d_grad))
    layer = layer_cls(cfg["pool_size"], strides=cfg["strides"], padding=cfg["padding"], dtype="float64")
    y = layer(x)
    np.testing.assert_allclose(y, forward(x, *args), rtol=1e-12, atol=1e-12)
    dy = rng.standard_normal(y.shape)
    dx = swap_batch_axis(layer.backward(swap_batch_axis(dy)))
    np.testing.assert_allclose(dx, grad(x, dy, *args), rtol=1e-12, atol=1e-12)
