"""Winograd F(4x4, 3x3) convolution and the engine's thread pool.

Winograd must give im2col's numbers (im2col is itself held to naive loops and PyTorch), forward and every
gradient, in both layouts (batch innermost, and channels innermost for small batches), with the NumPy tile
transforms and with the compiled ones, on even and odd output sizes and every padding; its gradients must
pass central differences; the compiled transforms must equal the NumPy ones; a kernel changed in place must
not be served a stale transform; and splitting work across the pool must not change results.
"""
import zlib

import numpy as np
import pytest
from reference import CONV_GRID, conv_id, pair
from test_ops_gradcheck import check_layer, pre_activation_margin

from clearcnn import ops
from clearcnn.layers import Activation, AveragePooling2D, Conv2D, Dense, Dropout, Flatten, MaxPooling2D
from clearcnn.models import Sequential
from clearcnn.ops import reference, swap_batch_axis
from clearcnn.ops.fast import compiled as compiled_kernels
from clearcnn.ops.fast import conv, parallel, winograd
from clearcnn.ops.fast import pool as fast_pool
from clearcnn.ops.fast.workspace import NoWorkspace, Workspace
from clearcnn.ops.geometry import Geometry

COMPILED = [False, True] if compiled_kernels.AVAILABLE else [False]
LINEAR = ops.get_activation(None)

SHAPES = [  # (H, W, C, F, N, padding)
    ((6, 6), 3, 2, 2, "valid"),          # even output (4x4)
    ((7, 9), 5, 6, 3, "same"),           # odd output on both sides
    ((5, 4), 2, 3, 1, ((2, 0), (1, 3))),  # asymmetric explicit padding, batch of one
    ((3, 3), 4, 5, 2, "valid"),          # a single output pixel: one tile, three of its outputs dropped
    ((15, 15), 32, 16, 3, "same"),       # CIFAR-like sizes
    ((13, 10), 17, 8, 2, "valid"),
]
SHAPE_IDS = [f"{h}x{w}x{c}-f{f}-n{n}-{p}".replace(" ", "") for (h, w), c, f, n, p in SHAPES]


WINOGRADS = ["winograd", "winograd_nhwc"]  # batch innermost, channels innermost


@pytest.fixture(autouse=True)
def fast_backend():
    """These tests are about the fast backend's algorithms, also where they run inside layers."""
    before = ops.get_backend()
    ops.set_backend("fast")
    yield
    ops.set_backend(before)


@pytest.fixture(params=COMPILED, ids=lambda compiled: "compiled" if compiled else "numpy")
def compiled(request, monkeypatch):
    monkeypatch.setattr(compiled_kernels, "enabled", request.param)
    return request.param


def im2col_reference(x, kernel, bias, geometry):
    return reference.conv2d_forward(x, kernel, bias, geometry, LINEAR)


def im2col_reference_backward(dy, kernel, cache, geometry, input_grad=True):
    return reference.conv2d_backward(dy, kernel, cache, geometry, LINEAR, input_grad)


# The algorithms, and Winograd's inference forward, which keeps only the input: a backward pass after it
# transforms the input again.
FORWARDS = {**{name: conv.ALGORITHMS[name][0] for name in conv.ALGORITHMS}, "winograd-inference":
            conv.INFERENCE["winograd"]}
BACKWARDS = {**{name: conv.ALGORITHMS[name][1] for name in conv.ALGORITHMS}, "winograd-inference":
             conv.ALGORITHMS["winograd"][1]}


def forward(algorithm, x, kernel, bias, geometry, workspace=NoWorkspace, relu=False):
    """One of the fast backend's algorithms, called directly."""
    return FORWARDS[algorithm](x, kernel, bias, geometry, workspace, relu)


def backward(algorithm, dy, kernel, cache, geometry, workspace=NoWorkspace, input_grad=True):
    return BACKWARDS[algorithm](dy, kernel, cache, geometry, input_grad, workspace)


def random_case(hw, c, f, n, padding, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((c, *hw, n)).astype(dtype)
    kernel = rng.standard_normal((3, 3, c, f)).astype(dtype)
    bias = rng.standard_normal(f).astype(dtype)
    return rng, x, kernel, bias, Geometry.of(hw, (3, 3), padding=padding)


@pytest.mark.parametrize("algorithm", [*WINOGRADS, "winograd-inference"])
@pytest.mark.parametrize("relu", [False, True], ids=["linear", "relu"])
@pytest.mark.parametrize("threads", [False, True], ids=["serial", "pool"])
@pytest.mark.parametrize("case", SHAPES, ids=SHAPE_IDS)
def test_winograd_gives_im2col_numbers(case, compiled, threads, relu, algorithm, monkeypatch):
    rng, x, kernel, bias, geometry = random_case(*case)
    # the reference: im2col, then ReLU and its gradient by hand
    z_ref, cache_ref = im2col_reference(x, kernel, bias, geometry)
    y_ref = np.maximum(z_ref, 0) if relu else z_ref
    dy = rng.standard_normal(y_ref.shape)
    dx_ref, dk_ref, db_ref = im2col_reference_backward(dy * (z_ref > 0) if relu else dy, kernel, cache_ref, geometry)
    workspace = Workspace()
    monkeypatch.setattr(parallel, "MIN_PART_ITEMS", 0)  # split even these small images
    monkeypatch.setattr(parallel, "MIN_PART_FLOPS", 0)
    with parallel.engine_threads(64 if threads else 1):
        for _ in range(2):  # the second call reuses the workspace's buffers
            y, cache = forward(algorithm, x, kernel, bias, geometry, workspace, relu)
            dx, dk, db = backward(algorithm, dy, kernel, cache, geometry, workspace)
            np.testing.assert_allclose(y, y_ref, atol=1e-11)
            np.testing.assert_allclose(dx, dx_ref, atol=1e-11)
            np.testing.assert_allclose(dk, dk_ref, atol=1e-11)
            np.testing.assert_allclose(db, db_ref, atol=1e-11)
    assert y.shape == y_ref.shape and dx.shape == x.shape


def test_training_keeps_the_input_tiles_only_up_to_a_size(compiled, monkeypatch):
    """Over KEEP_TILES_BYTES, training's forward keeps the input instead of V, and backward, transforming it
    again, gives the same gradients."""
    rng, x, kernel, bias, geometry = random_case((15, 15), 32, 16, 3, "same")
    dy = rng.standard_normal((16, 15, 15, 3))
    y, cache = forward("winograd", x, kernel, bias, geometry, Workspace())
    assert cache[2] is not None and cache[4] is None
    expected = backward("winograd", dy, kernel, cache, geometry, Workspace())
    monkeypatch.setattr(winograd, "KEEP_TILES_BYTES", 4 * 36 * 32 * 16 * 3)  # V in float32; float64 doubles it
    x32, kernel32, bias32 = (a.astype(np.float32) for a in (x, kernel, bias))
    assert forward("winograd", x32, kernel32, bias32, geometry, Workspace())[1][2] is not None
    large, large_cache = forward("winograd", x, kernel, bias, geometry, Workspace())  # float64: over the size
    assert large_cache[2] is None and large_cache[4] is x
    np.testing.assert_allclose(large, y, atol=1e-11)
    for _ in range(2):  # backward after it may run again: it transforms the input anew each time
        for ours, theirs in zip(backward("winograd", dy, kernel, large_cache, geometry, Workspace()), expected):
            np.testing.assert_allclose(ours, theirs, atol=1e-11)


@pytest.mark.parametrize("algorithm", [*WINOGRADS, "winograd-inference"])
def test_winograd_results_do_not_alias_the_workspace(compiled, algorithm):
    """What a call hands back survives the next call (the workspace only holds scratch and caches)."""
    _, x, kernel, bias, geometry = random_case((6, 6), 3, 2, 2, "valid")  # no padding at all
    workspace = Workspace()
    y1, cache = forward(algorithm, x, kernel, bias, geometry, workspace)
    dx1, _, _ = backward(algorithm, np.ones_like(y1), kernel, cache, geometry, workspace)
    kept_y, kept_dx = y1.copy(), dx1.copy()
    y2, cache = forward(algorithm, 2 * x, kernel, bias, geometry, workspace)
    backward(algorithm, 3 * np.ones_like(y2), kernel, cache, geometry, workspace)
    np.testing.assert_array_equal(y1, kept_y)
    np.testing.assert_array_equal(dx1, kept_dx)


FOLLOWERS = {  # each layer after a channels-innermost convolution reads its (C, H, W, N) view of NHWC data
    "max-pool": lambda: [MaxPooling2D(2), Flatten()],
    "padded-max-pool-conv": lambda: [MaxPooling2D(3, strides=1, padding="same"), Conv2D(9, 3, padding="same"),
                                     Flatten()],
    "average-pool": lambda: [AveragePooling2D(2, padding="same"), Flatten()],
    "im2col-conv": lambda: [Conv2D(3, 2, strides=2, activation="relu"), Flatten()],
    "winograd-conv": lambda: [Conv2D(9, 3, padding="same"), Flatten()],
    "activation-dropout": lambda: [Activation("tanh"), Dropout(0.5, seed=3), Flatten()],
    "flatten-dense": lambda: [Flatten(), Dense(4)],
}


@pytest.mark.parametrize("follower", FOLLOWERS)
def test_layers_around_a_channels_innermost_conv_give_the_same_numbers(follower, compiled, monkeypatch):
    """The same model, weights and batch with every convolution on im2col, then with channels-innermost
    Winograd where it applies: outputs and every weight gradient agree. The first layer's gradients depend on
    the input gradient the Winograd layer hands back."""
    x = np.random.default_rng(11).standard_normal((3, 8, 7, 10)).astype(np.float32)
    results = {}
    for algorithm in ("im2col", "winograd_nhwc"):
        monkeypatch.setattr(conv, "choose_algorithm", lambda kernel_shape, geometry, batch, chosen=algorithm:
                            chosen if winograd.winograd_applies(kernel_shape, geometry) else "im2col")
        model = Sequential([Conv2D(10, 1, input_shape=(8, 7, 10)), Conv2D(9, 3, padding="same", activation="relu"),
                            *FOLLOWERS[follower]()])
        model.set_weights([np.random.default_rng(12 + i).standard_normal(w.shape).astype(np.float32) * 0.3
                           for i, w in enumerate(model.get_weights())])
        y = model.call(x, training=True)
        assert model.layers[1]._cache[1][0] == algorithm
        model.backward(np.cos(np.arange(y.size, dtype=np.float32)).reshape(y.shape))
        results[algorithm] = [y] + [w.grad for w in model.weights]
    for ours, expected in zip(results["winograd_nhwc"], results["im2col"]):
        np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


@pytest.mark.skipif(not compiled_kernels.AVAILABLE, reason="Numba is not installed")
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_max_pooling_runs_on_channels_innermost_data_as_it_lies(padding):
    """A (C, H, W, N) view of NHWC data pools to the numbers its contiguous copy pools to, forward and back,
    and both results are such views again, for the channels-innermost layer that may follow."""
    rng = np.random.default_rng(5)
    geometry = Geometry.of((7, 6), (3, 3), (2, 2), padding=padding)
    x = np.swapaxes(rng.standard_normal((8, 7, 6, 16), dtype=np.float32), 0, -1)
    assert fast_pool.channels_innermost(x)
    y, cache = fast_pool.max_pool2d_forward(x, geometry)
    expected, expected_cache = fast_pool.max_pool2d_forward(np.ascontiguousarray(x), geometry)
    assert fast_pool.channels_innermost(y) and cache[2]
    np.testing.assert_array_equal(y, expected)
    dy = np.swapaxes(rng.standard_normal((8, *geometry.out_hw, 16), dtype=np.float32), 0, -1)
    dx = fast_pool.max_pool2d_backward(dy, cache, y, geometry)
    assert fast_pool.channels_innermost(dx)
    np.testing.assert_array_equal(dx, fast_pool.max_pool2d_backward(np.ascontiguousarray(dy), expected_cache,
                                                                      expected, geometry))


@pytest.mark.parametrize("case", SHAPES[:3], ids=SHAPE_IDS[:3])
def test_im2col_fused_relu_equals_relu_after(case):
    rng, x, kernel, bias, geometry = random_case(*case)
    z, cache = forward("im2col", x, kernel, bias, geometry)
    y, fused_cache = forward("im2col", x, kernel, bias, geometry, relu=True)
    np.testing.assert_array_equal(y, np.maximum(z, 0))
    dy = rng.standard_normal(y.shape)
    for ours, expected in zip(backward("im2col", dy, kernel, fused_cache, geometry),
                              backward("im2col", dy * (z > 0), kernel, cache, geometry)):
        np.testing.assert_allclose(ours, expected, atol=1e-12)


@pytest.mark.parametrize("algorithm", WINOGRADS)
def test_winograd_without_bias_or_input_gradient(compiled, algorithm):
    rng, x, kernel, _, geometry = random_case((7, 7), 4, 3, 2, "same")
    y_ref, cache_ref = im2col_reference(x, kernel, None, geometry)
    y, cache = forward(algorithm, x, kernel, None, geometry)
    np.testing.assert_allclose(y, y_ref, atol=1e-11)
    dy = rng.standard_normal(y.shape)
    dx, dk, _ = backward(algorithm, dy, kernel, cache, geometry, input_grad=False)
    assert dx is None
    np.testing.assert_allclose(dk, im2col_reference_backward(dy, kernel, cache_ref, geometry)[1], atol=1e-11)


@pytest.mark.parametrize("algorithm", WINOGRADS)
def test_a_kernel_changed_in_place_is_not_served_a_stale_transform(compiled, algorithm):
    """The layer keeps the kernel's Winograd transform between calls; writing into the kernel array, as an
    optimizer step or set_weights does, must be noticed."""
    _, x, kernel, bias, geometry = random_case((7, 7), 4, 3, 2, "same")
    workspace = Workspace()
    forward(algorithm, x, kernel, bias, geometry, workspace)
    kernel[1, 2, 3, 0] += 0.5  # one number, in place
    y, _ = forward(algorithm, x, kernel, bias, geometry, workspace)
    np.testing.assert_allclose(y, im2col_reference(x, kernel, bias, geometry)[0], atol=1e-11)


def test_workspace_reuse_keeps_a_result_while_its_source_is_unchanged():
    calls = []

    def compute(source):
        calls.append(source.copy())
        return source * 2

    workspace, source = Workspace(), np.arange(6.0)
    first = workspace.reuse("doubled", compute, source)
    assert workspace.reuse("doubled", compute, source.copy()) is first  # same numbers, another array: kept
    source[4] = -1.0
    np.testing.assert_array_equal(workspace.reuse("doubled", compute, source), source * 2)
    np.testing.assert_array_equal(workspace.reuse("doubled", compute, source.astype(np.float32)), source * 2)
    assert len(calls) == 3  # first call, after the change, for the new dtype


@pytest.mark.skipif(not compiled_kernels.AVAILABLE, reason="Numba is not installed")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("cut", [(0, 0), (1, 0), (3, 2)], ids=["whole", "cut-rows", "cut-both"])
def test_compiled_transforms_equal_numpy_ones(dtype, relu, cut):
    """Each compiled tile transform against its NumPy reference, over part of the channel range only."""
    rng = np.random.default_rng(3)
    c, th, tw, n = 5, 3, 4, 6
    start, stop = 1, 4
    size, alpha = winograd.TILE, winograd.ALPHA
    x = rng.standard_normal((c, size * th - 1, size * tw, n)).astype(dtype)  # with 1 row, 2 columns of padding
    tiles = rng.standard_normal((alpha, alpha, c, th, tw, n)).astype(dtype)
    image = rng.standard_normal((c, size * th - cut[0], size * tw - cut[1], n)).astype(dtype)  # dy; y for the mask
    dy = rng.standard_normal(image.shape).astype(dtype)
    bias = rng.standard_normal(c).astype(dtype)
    cases = [("input_tiles", (x, 1, 2, tw, 0), [(alpha, alpha, c, th * tw, n)]),
             ("input_tiles", (x, 1, 2, tw, tw - 1), [(alpha, alpha, c, tw + 2, n)]),
             ("input_tiles_adjoint", (tiles, 1, 2), [x.shape]),
             ("output_tiles", (tiles.reshape(alpha, alpha, c, th * tw, n), bias, relu, 0), [image.shape]),
             # a block of tiles from the middle of the image: tiles tw - 1 to 2 tw + 1 in row-major order
             ("output_tiles", (tiles.reshape(alpha, alpha, c, th * tw, n)[:, :, :, :tw + 2].copy(), bias, relu,
                               tw - 1), [image.shape]),
             ("output_tiles_adjoint", (dy, image, relu, 0), [(alpha, alpha, c, th * tw, n), (c,)]),
             ("output_tiles_adjoint", (dy, image, relu, tw - 1), [(alpha, alpha, c, tw + 2, n), (c,)])]
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    for name, inputs, out_shapes in cases:
        originals = [rng.standard_normal(shape).astype(dtype) for shape in out_shapes]
        ours, expected = [a.copy() for a in originals], [a.copy() for a in originals]
        getattr(compiled_kernels.kernels().winograd, name)(*inputs, *ours, start, stop)
        getattr(winograd.NumPyTransforms, name)(*inputs, *expected, start, stop)
        for mine, theirs, original in zip(ours, expected, originals):
            np.testing.assert_allclose(mine, theirs, rtol=tolerance, atol=tolerance, err_msg=name)
            channel_axis = 2 if mine.ndim >= 5 else 0
            others = [i for i in range(c) if not start <= i < stop]
            np.testing.assert_array_equal(mine.take(others, channel_axis), original.take(others, channel_axis),
                                          err_msg=f"{name} wrote outside its channels")
            assert not np.array_equal(mine.take([start], channel_axis), original.take([start], channel_axis))


WINOGRAD_GRID = [cfg for cfg in CONV_GRID if pair(cfg["kernel"]) == (3, 3) and pair(cfg["strides"]) == (1, 1)
                 and pair(cfg["dilation"]) == (1, 1)]
WINOGRAD_GRID += [dict(WINOGRAD_GRID[1], activation="relu"), dict(WINOGRAD_GRID[2], activation="relu", hw=(7, 6))]


@pytest.fixture(params=WINOGRADS)
def force_winograd(request, monkeypatch):
    def choose(kernel_shape, geometry, batch):
        return request.param if winograd.winograd_applies(kernel_shape, geometry) else "im2col"
    monkeypatch.setattr(conv, "choose_algorithm", choose)
    return request.param


@pytest.mark.parametrize("cfg", WINOGRAD_GRID, ids=conv_id)
def test_winograd_layer_gradients(cfg, compiled, force_winograd):
    """Central differences through Conv2D, as test_ops_gradcheck does for im2col."""
    rng = np.random.default_rng(zlib.crc32(conv_id(cfg).encode()))
    layer = Conv2D(cfg["cout"], 3, padding=cfg["padding"], activation=cfg["activation"],
                   use_bias=cfg["use_bias"], dtype="float64")
    shape = (cfg["batch"], *cfg["hw"], cfg["cin"])
    layer.build((None, *shape[1:]))
    for _ in range(20):  # redraw until no pre-activation value sits near ReLU's kink
        x = rng.standard_normal(shape)
        layer.set_weights([rng.standard_normal(w.shape) * 0.5 for w in layer.weights])
        if cfg["activation"] != "relu" or pre_activation_margin(layer, x) > 1e-4:
            break
    check_layer(layer, x, rng)
    assert layer._cache[1][0] == force_winograd


@pytest.mark.parametrize("case", SHAPES, ids=SHAPE_IDS)
def test_winograd_matches_torch_in_float32(case, force_winograd):
    torch_module = pytest.importorskip("torch")
    F = torch_module.nn.functional
    (h, w), c, f, n, padding = case
    rng = np.random.default_rng(5)
    x = rng.standard_normal((n, h, w, c)).astype(np.float32)
    layer = Conv2D(f, 3, padding=padding)
    layer.build((None, h, w, c))
    weights = [rng.standard_normal(weight.shape).astype(np.float32) for weight in layer.weights]
    layer.set_weights(weights)
    y = layer(x)
    r = rng.standard_normal(y.shape).astype(np.float32)
    dx = swap_batch_axis(layer.backward(swap_batch_axis(r)))
    assert layer._cache[1][0] == force_winograd

    tx = torch_module.tensor(x.transpose(0, 3, 1, 2).copy(), requires_grad=True)
    tk = torch_module.tensor(weights[0].transpose(3, 2, 0, 1).copy(), requires_grad=True)
    tb = torch_module.tensor(weights[1], requires_grad=True)
    (top, bottom), (left, right) = layer.geometry((h, w)).pads
    ty = F.conv2d(F.pad(tx, (left, right, top, bottom)), tk, tb)
    (ty * torch_module.tensor(r.transpose(0, 3, 1, 2).copy())).sum().backward()
    scale = float(np.sqrt(9 * c))  # products summed over 9c terms
    np.testing.assert_allclose(y, ty.detach().numpy().transpose(0, 2, 3, 1), atol=2e-5 * scale, rtol=1e-4)
    np.testing.assert_allclose(dx, tx.grad.numpy().transpose(0, 2, 3, 1),
                               atol=2e-5 * scale, rtol=1e-4)
    np.testing.assert_allclose(layer.kernel.grad, tk.grad.numpy().transpose(2, 3, 1, 0),
                               atol=1e-4 * np.sqrt(n * h * w), rtol=1e-4)
    np.testing.assert_allclose(layer.bias.grad, tb.grad.numpy(), atol=1e-4 * np.sqrt(n * h * w), rtol=1e-4)


@pytest.mark.parametrize("kernel_shape, strides, dilation, compiled_choices, numpy_choices", [
    # (at batch 64, 8 and 1) with the compiled kernels, then with NumPy's only
    ((3, 3, 32, 8), 1, 1, ("winograd", "winograd_nhwc", "winograd_nhwc"), ("im2col",) * 3),
    ((3, 3, 3, 8), 1, 1, ("winograd", "winograd_nhwc", "winograd_nhwc"), ("im2col",) * 3),  # enough output channels
    ((3, 3, 32, 4), 1, 1, ("winograd", "winograd_nhwc", "winograd_nhwc"), ("im2col",) * 3),  # enough input channels
    # 3 channels, 6 out: too few numbers to vectorise over for one image or for 8
    ((3, 3, 3, 6), 1, 1, ("winograd", "im2col", "im2col"), ("im2col",) * 3),
    ((3, 3, 1, 32), 1, 1, ("im2col",) * 3, ("im2col",) * 3),  # one input channel: products of depth 1
    ((3, 3, 32, 8), 2, 1, ("im2col",) * 3, ("im2col",) * 3),
    ((3, 3, 32, 8), 1, 2, ("im2col",) * 3, ("im2col",) * 3),  # dilated: columns of 4.7 MB at batch 64
    ((5, 5, 32, 8), 1, 1, ("banded", "im2col", "im2col"), ("banded", "im2col", "im2col")),
    ((3, 1, 32, 8), 1, 1, ("im2col",) * 3, ("im2col",) * 3),
    ((5, 5, 64, 8), 1, 1, ("banded", "im2col", "im2col"), ("banded", "im2col", "im2col")),  # 26 MB at batch 64
])
def test_choose_algorithm(kernel_shape, strides, dilation, compiled_choices, numpy_choices, compiled):
    """Winograd only with the compiled transforms (NumPy's are slower than im2col) and more than one input
    channel, vectorised over channels below 16 images where there are enough of them; banded im2col where the
    whole image's columns would be many times the cache (8 MB)."""
    geometry = Geometry.of((12, 12), kernel_shape[:2], (strides, strides), (dilation, dilation))
    expected = compiled_choices if compiled else numpy_choices
    assert tuple(conv.choose_algorithm(kernel_shape, geometry, batch) for batch in (64, 8, 1)) == expected


# --- the thread pool ---------------------------------------------------------------------------------

needs_pool = pytest.mark.skipif(not (parallel.available() and compiled_kernels.AVAILABLE),
                                reason="the pool needs threadpoolctl, Numba and two cores")


@needs_pool
@pytest.mark.parametrize("shapes", [((16, 5, 7), (16, 7, 300)), ((3, 40), (40, 500)), ((300, 40), (40, 3)),
                                    ((8, 6), (6, 9))])
def test_pool_matmul_equals_numpy(shapes, monkeypatch):
    monkeypatch.setattr(parallel, "MIN_PART_FLOPS", 0)  # split even these small products
    rng = np.random.default_rng(1)
    a, b = (rng.standard_normal(shape) for shape in shapes)
    with parallel.engine_threads():
        ours = parallel.matmul(a, b)
        out = np.empty_like(ours)
        same = parallel.matmul(a, b, out=out)
    np.testing.assert_allclose(ours, a @ b, atol=1e-12)
    assert same is out
    np.testing.assert_allclose(out, a @ b, atol=1e-12)


@needs_pool
@pytest.mark.parametrize("shapes, axis", [
    (((256, 2304), (2304, 8)), "rows"),  # a batch of 8's dense layer: little arithmetic, 2.4 MB of weights to read
    (((8, 2304), (2304, 256)), "columns"),
    (((2, 30000), (30000, 2)), "depth"),  # a tiny result of a long sum
])
def test_pool_matmul_splits_products_bound_by_memory_or_by_a_long_sum(shapes, axis, monkeypatch):
    """Products of too little arithmetic for MIN_PART_FLOPS still go to two threads or more, along the axis
    that has the work: one that reads many numbers, or the shared axis when the result is small."""
    splits, real_run = [], parallel.run
    monkeypatch.setattr(parallel, "run", lambda function, count, grain=1:
                        splits.append(count / grain) or real_run(function, count, grain))
    rng = np.random.default_rng(2)
    a, b = (rng.standard_normal(shape).astype(np.float32) for shape in shapes)
    assert 2.0 * a.shape[0] * a.shape[1] * b.shape[1] < 2 * parallel.MIN_PART_FLOPS  # one part's worth by flops
    with parallel.engine_threads():
        ours = parallel.matmul(a, b)
    assert len(splits) == 1 and splits[0] >= 2
    count = {"rows": a.shape[0], "columns": b.shape[1], "depth": a.shape[1]}[axis]
    assert count / splits[0] == pytest.approx(parallel.part_grain(*{
        "rows": (2.0 * a.shape[1] * b.shape[1], a.shape[1] + b.shape[1]),
        "columns": (2.0 * a.shape[0] * a.shape[1], a.shape[0] + a.shape[1]),
        "depth": (2.0 * a.shape[0] * b.shape[1], a.shape[0] + b.shape[1])}[axis]))
    np.testing.assert_allclose(ours, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-3)


@needs_pool
@pytest.mark.parametrize("count, grain", [(0, 1), (1, 1), (2, 1), (7, 1), (100, 16), (10, 16)])
def test_pool_run_covers_each_item_once(count, grain):
    seen = np.zeros(count, int)

    def work(start, stop):
        seen[start:stop] += 1

    with parallel.engine_threads():
        parallel.run(work, count, grain)
    np.testing.assert_array_equal(seen, 1)


@needs_pool
def test_pool_run_passes_errors_on():
    def work(start, stop):
        if start > 0:
            raise RuntimeError("part failed")

    with parallel.engine_threads(), pytest.raises(RuntimeError, match="part failed"):
        parallel.run(work, 10)
    assert not parallel.active()


@needs_pool
def test_engine_threads_restores_blas_threads():
    from threadpoolctl import threadpool_info
    before = [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]
    with parallel.engine_threads():
        assert parallel.active()
        inside = [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]
        assert all(threads == 1 for threads in inside)
    assert not parallel.active()
    assert [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"] == before


@pytest.mark.parametrize("case", SHAPES[:3], ids=SHAPE_IDS[:3])
def test_im2col_split_over_the_pool_gives_the_same_numbers(case, monkeypatch):
    """The im2col copy and the col2im sum, split by channels across the pool, against one thread."""
    rng, x, kernel, bias, geometry = random_case(*case)
    y_ref, cache_ref = im2col_reference(x, kernel, bias, geometry)
    dy = rng.standard_normal(y_ref.shape)
    expected = im2col_reference_backward(dy, kernel, cache_ref, geometry)
    monkeypatch.setattr(parallel, "MIN_PART_ITEMS", 0)
    monkeypatch.setattr(parallel, "MIN_PART_FLOPS", 0)
    with parallel.engine_threads():
        y, cache = forward("im2col", x, kernel, bias, geometry, Workspace())
        ours = backward("im2col", dy, kernel, cache, geometry)
    np.testing.assert_allclose(y, y_ref, atol=1e-12)
    for mine, theirs in zip(ours, expected):
        np.testing.assert_allclose(mine, theirs, atol=1e-12)


@needs_pool
@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="no fork on this platform")
def test_a_forked_child_gets_a_pool_of_its_own():
    """The parent's pool threads do not exist in a forked child; work handed to them would never run."""
    import multiprocessing
    with parallel.engine_threads():  # the parent starts its pool
        parallel.run(lambda start, stop: None, 10)
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:
        result = pool.apply_async(_split_in_a_child)
        assert result.get(timeout=60) == 2


def _split_in_a_child():
    seen = []
    with parallel.engine_threads():
        parallel.run(lambda start, stop: seen.append((start, stop)), 10)
    return len(seen)


def test_the_engine_says_in_one_line_what_computes(compiled):
    line = ops.describe()
    assert line.startswith("backend fast, compiled kernels " + ("on (Numba " if compiled else "off (NumPy)")), line
    ops.set_backend("reference")
    assert ops.describe() == "backend reference (NumPy)"


def test_kernels_that_fail_to_load_fall_back_to_numpy(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def failing_import(name, globals=None, locals=None, fromlist=(), level=0):
        if level and name == "jit":
            raise RuntimeError("no locator available for the cache")
        return real_import(name, globals, locals, fromlist, level)

    monkeypatch.setattr(compiled_kernels, "enabled", True)
    monkeypatch.setattr(compiled_kernels, "_kernels", None)  # as in a fresh process
    monkeypatch.setattr(builtins, "__import__", failing_import)
    with pytest.warns(RuntimeWarning, match="NumPy kernels instead"):
        assert compiled_kernels.kernels() is None
    assert compiled_kernels.enabled is False
    assert compiled_kernels.kernels() is None  # and quietly from then on
