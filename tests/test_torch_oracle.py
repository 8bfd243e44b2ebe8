"""Forward values and gradients (input, kernel, bias) against PyTorch, in float32, on the shared grids.

PyTorch pads symmetrically, so Keras's "same" and explicit asymmetric padding are reproduced with F.pad
using amounts recomputed in reference.pads_2d. Max pooling pads with -inf; average pooling divides the
window sum of the padded input by the window sum of a padded tensor of ones (the count of real cells).
Skipped where torch is not installed (CI installs it).
"""
import numpy as np
import pytest
from reference import CONV_GRID, POOL_GRID, conv_id, distinct_values, pad_nhwc, pads_2d, pair, pool_id

from clearcnn.layers import AveragePooling2D, Conv2D, MaxPooling2D
from clearcnn.ops import swap_batch_axis

pytestmark = pytest.mark.usefixtures("engine_backend")  # NumPy and compiled kernels alike

torch = pytest.importorskip("torch")
F = torch.nn.functional

TORCH_ACTIVATIONS = {
    "linear": lambda z: z,
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "softmax": lambda z: torch.softmax(z, dim=1),  # channels are axis 1 in NCHW
    "leaky_relu": lambda z: F.leaky_relu(z, 0.2),  # Keras 3's default slope
    "elu": lambda z: F.elu(z, 1.0),
}


def assert_close32(ours, theirs, what):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
    assert ours.shape == theirs.shape, what
    scale = max(1.0, float(np.abs(theirs).max()))
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5 * scale, err_msg=what)


def nchw(x):
    return torch.tensor(np.ascontiguousarray(x.transpose(0, 3, 1, 2)), requires_grad=True)


def nhwc(t):
    return t.detach().numpy().transpose(0, 2, 3, 1)


def torch_pad(t, pads, value=0.0):
    (top, bottom), (left, right) = pads
    return F.pad(t, (left, right, top, bottom), value=value)


@pytest.mark.parametrize("cfg", CONV_GRID, ids=conv_id)
def test_conv2d_matches_torch(cfg):
    rng = np.random.default_rng(21)
    x = rng.standard_normal((cfg["batch"], *cfg["hw"], cfg["cin"])).astype(np.float32)
    layer = Conv2D(cfg["cout"], cfg["kernel"], strides=cfg["strides"], padding=cfg["padding"],
                   dilation_rate=cfg["dilation"], activation=cfg["activation"], use_bias=cfg["use_bias"])
    layer.build((None, *x.shape[1:]))
    weights = [rng.standard_normal(w.shape).astype(np.float32) * 0.5 for w in layer.weights]
    layer.set_weights(weights)

    y = layer(x)
    r = rng.standard_normal(y.shape).astype(np.float32)
    dx = swap_batch_axis(layer.backward(swap_batch_axis(r)))

    tx = nchw(x)
    tk = torch.tensor(weights[0].transpose(3, 2, 0, 1).copy(), requires_grad=True)  # (out, in, kh, kw)
    tb = torch.tensor(weights[1], requires_grad=True) if cfg["use_bias"] else None
    strides, dilation = pair(cfg["strides"]), pair(cfg["dilation"])
    pads = pads_2d(cfg["hw"], weights[0].shape[:2], strides, dilation, cfg["padding"])
    tz = F.conv2d(torch_pad(tx, pads), tk, tb, stride=strides, dilation=dilation)
    ty = TORCH_ACTIVATIONS[cfg["activation"]](tz)
    (ty * torch.tensor(r.transpose(0, 3, 1, 2).copy())).sum().backward()

    assert_close32(y, nhwc(ty), "forward")
    assert_close32(dx, nhwc(tx.grad), "input gradient")
    assert_close32(layer.kernel.grad, tk.grad.numpy().transpose(2, 3, 1, 0), "kernel gradient")
    if cfg["use_bias"]:
        assert_close32(layer.bias.grad, tb.grad, "bias gradient")


@pytest.mark.parametrize("cfg", POOL_GRID, ids=pool_id)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling_matches_torch(kind, cfg):
    rng = np.random.default_rng(22)
    x = distinct_values((cfg["batch"], *cfg["hw"], cfg["channels"]), rng).astype(np.float32)
    layer_cls = MaxPooling2D if kind == "max" else AveragePooling2D
    layer = layer_cls(cfg["pool_size"], strides=cfg["strides"], padding=cfg["padding"])
    y = layer(x)
    r = rng.standard_normal(y.shape).astype(np.float32)
    dx = swap_batch_axis(layer.backward(swap_batch_axis(r)))

    pool = pair(cfg["pool_size"])
    strides = pool if cfg["strides"] is None else pair(cfg["strides"])
    pads = pads_2d(cfg["hw"], pool, strides, (1, 1), cfg["padding"])
    tx = nchw(x)
    if kind == "max":
        ty = F.max_pool2d(torch_pad(tx, pads, -float("inf")), pool, strides)
    else:
        total = F.avg_pool2d(torch_pad(tx, pads), pool, strides, divisor_override=1)
        ones = torch_pad(torch.ones((1, 1, *cfg["hw"])), pads)
        ty = total / F.avg_pool2d(ones, pool, strides, divisor_override=1)
    (ty * torch.tensor(r.transpose(0, 3, 1, 2).copy())).sum().backward()

    assert_close32(y, nhwc(ty), "forward")
    assert_close32(dx, nhwc(tx.grad), "input gradient")


def test_symmetric_same_average_pooling_matches_count_include_pad_false():
    """Where "same" padding happens to be symmetric, PyTorch's own count_include_pad=False agrees."""
    rng = np.random.default_rng(23)
    x = rng.standard_normal((2, 5, 5, 3)).astype(np.float32)
    y = AveragePooling2D(3, strides=1, padding="same")(x)
    ty = F.avg_pool2d(nchw(x), 3, 1, padding=1, count_include_pad=False)
    assert_close32(y, nhwc(ty), "forward")


def test_pad_helper_is_consistent():
    """The test's own padding helper agrees with its numpy twin (guards the oracle, not clearcnn)."""
    x = np.arange(2 * 3 * 4 * 2, dtype=np.float32).reshape(2, 3, 4, 2)
    pads = ((1, 2), (0, 3))
    np.testing.assert_array_equal(nhwc(torch_pad(nchw(x), pads)), pad_nhwc(x, pads))


@pytest.mark.filterwarnings("ignore:Using padding=.same.")
@pytest.mark.parametrize("kernel, dilation", [(2, 1), (3, 1), (4, 1), (5, 1), ((2, 5), 1), (2, 3), ((3, 4), (2, 1))])
def test_same_padding_matches_torch_native_same(kernel, dilation):
    """PyTorch's own padding="same" (stride 1) also puts the odd pixel bottom/right: no helper involved."""
    rng = np.random.default_rng(24)
    x = rng.standard_normal((2, 6, 7, 3)).astype(np.float32)
    layer = Conv2D(4, kernel, padding="same", dilation_rate=dilation)
    y = layer(x)
    kernel_array, bias = layer.get_weights()
    ty = F.conv2d(nchw(x), torch.tensor(kernel_array.transpose(3, 2, 0, 1).copy()), torch.tensor(bias),
                  padding="same", dilation=pair(dilation))
    assert_close32(y, nhwc(ty), "forward")
