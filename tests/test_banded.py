"""The fast backend's banded im2col (stride-1 kernels that Winograd does not take) against the reference
im2col: forward, ReLU fused, and every gradient, with bands of one row and of many, split over the pool or
not, with the compiled band copies and with NumPy's."""
import contextlib
import subprocess
import sys

import numpy as np
import pytest

from clearcnn.ops import Geometry, get_activation
from clearcnn.ops.fast import banded, conv, parallel
from clearcnn.ops.fast import compiled as compiled_kernels
from clearcnn.ops.fast import relu as fast_relu
from clearcnn.ops.fast.workspace import NoWorkspace, Workspace
from clearcnn.ops.reference import conv as reference

CASES = [  # (height, width), kernel, dilation, padding, channels in, channels out, batch
    ((9, 8), (5, 5), 1, "valid", 3, 4, 6),
    ((7, 10), (5, 3), 1, "same", 2, 5, 1),
    ((11, 9), (2, 2), 2, "same", 4, 3, 9),
    ((6, 6), (3, 1), 1, ((2, 1), (0, 3)), 1, 2, 3),
    ((8, 8), (7, 7), 1, "same", 2, 2, 2),
]


@pytest.fixture(params=[False, True] if compiled_kernels.AVAILABLE else [False], ids=["numpy", "compiled"])
def compiled(request, monkeypatch):
    monkeypatch.setattr(compiled_kernels, "enabled", request.param)


@pytest.mark.parametrize("band_bytes", [1, 10**9], ids=["one-row-bands", "one-band"])
@pytest.mark.parametrize("threads", [False, True], ids=["serial", "pool"])
@pytest.mark.parametrize("relu", [False, True], ids=["linear", "relu"])
@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case[0]}-k{case[1]}-d{case[2]}-{case[3]}")
def test_banded_gives_the_reference_numbers(case, relu, threads, band_bytes, compiled, monkeypatch):
    hw, kernel_hw, dilation, padding, c, f, n = case
    rng = np.random.default_rng(1)
    x = rng.standard_normal((c, *hw, n))
    kernel, bias = rng.standard_normal((*kernel_hw, c, f)), rng.standard_normal(f)
    geometry = Geometry.of(hw, kernel_hw, dilation=(dilation, dilation), padding=padding)
    activation = get_activation("relu" if relu else "linear")
    y_ref, cache_ref = reference.conv2d_forward(x, kernel, bias, geometry, activation)
    dy = rng.standard_normal(y_ref.shape)
    dx_ref, dk_ref, db_ref = reference.conv2d_backward(dy, kernel, cache_ref, geometry, activation, True)
    monkeypatch.setattr(banded, "BAND_BYTES", band_bytes)
    monkeypatch.setattr(parallel, "MIN_PART_FLOPS", 0)  # split even these small images over the pool
    workspace = Workspace()
    with parallel.engine_threads(64 if threads else 1):
        for _ in range(2):  # the second call reuses the workspace's buffers
            y, cache = banded.banded_forward(x, kernel, bias, geometry, workspace, relu)
            dx, dk, db = banded.banded_backward(dy, kernel, cache, geometry, True, workspace)
            for ours, expected in ((y, y_ref), (dx, dx_ref), (dk, dk_ref), (db, db_ref)):
                np.testing.assert_allclose(ours, expected, atol=1e-10)
    _, dk_only, _ = banded.banded_backward(dy, kernel, cache, geometry, False, NoWorkspace)
    np.testing.assert_allclose(dk_only, dk_ref, atol=1e-10)


@pytest.mark.parametrize("threads", [False, True], ids=["serial", "pool"])
@pytest.mark.parametrize("layout", ["contiguous", "strided"])
@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case[0]}-k{case[1]}-d{case[2]}-{case[3]}")
def test_whole_image_im2col_with_the_band_copies_gives_the_reference_numbers(case, layout, threads, compiled,
                                                                              monkeypatch):
    """conv.py's im2col copies and col2im sums take banded's compiled copies for stride 1 (whole images, a batch
    of at least 8, channels split over the pool); an input that is a strided view takes NumPy's."""
    hw, kernel_hw, dilation, padding, c, f, _ = case
    rng = np.random.default_rng(3)
    x = rng.standard_normal((c, *hw, 9))
    if layout == "strided":  # a (C, H, W, N) view of channels-innermost data, as Winograd's NHWC path hands on
        x = np.ascontiguousarray(x.transpose(3, 1, 2, 0)).transpose(3, 1, 2, 0)
    kernel, bias = rng.standard_normal((*kernel_hw, c, f)), rng.standard_normal(f)
    geometry = Geometry.of(hw, kernel_hw, dilation=(dilation, dilation), padding=padding)
    activation = get_activation("linear")
    y_ref, cache_ref = reference.conv2d_forward(x, kernel, bias, geometry, activation)
    dy = rng.standard_normal(y_ref.shape)
    expected = reference.conv2d_backward(dy, kernel, cache_ref, geometry, activation, True)
    monkeypatch.setattr(parallel, "MIN_PART_ITEMS", 0)  # split even these small images over the pool
    monkeypatch.setattr(parallel, "MIN_PART_FLOPS", 0)
    with parallel.engine_threads(64 if threads else 1):
        y, state = conv.im2col_forward(x, kernel, bias, geometry, Workspace())
        ours = conv.im2col_backward(dy, kernel, state, geometry, True, Workspace())
    np.testing.assert_allclose(y, y_ref, atol=1e-10)
    for mine, theirs in zip(ours, expected):
        np.testing.assert_allclose(mine, theirs, atol=1e-10)


@pytest.mark.parametrize("kernel_shape, strides, dilation, batch, chosen", [
    ((5, 5, 6, 16), 1, 1, 64, "banded"),  # SEED-CNN's second convolution: columns of many MB
    ((5, 5, 6, 16), 1, 1, 1, "im2col"),  # one image's columns fit in the cache
    ((5, 5, 6, 16), 2, 1, 64, "im2col"),  # strided: not banded
    ((1, 1, 64, 64), 1, 1, 64, "im2col"),  # 1x1: its columns are the input itself
    ((3, 3, 32, 8), 1, 2, 64, "banded"),  # dilated 3x3, not Winograd: columns of 20 MB
    ((5, 5, 1, 32), 1, 1, 32, "im2col"),  # the default preset's first layer: 1.8 MB of columns, one product
])
def test_banded_is_chosen_where_the_columns_outgrow_the_cache(kernel_shape, strides, dilation, batch, chosen):
    geometry = Geometry.of((28, 28), kernel_shape[:2], (strides, strides), (dilation, dilation))
    assert conv.choose_algorithm(kernel_shape, geometry, batch) == chosen


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
@pytest.mark.parametrize("relu", [False, True], ids=["linear", "relu"])
@pytest.mark.parametrize("threads", [False, True], ids=["serial", "pool"])
def test_bias_relu_and_its_adjoint_give_numpys_numbers(dtype, bias, relu, threads, compiled, monkeypatch):
    """fast/relu.py, compiled or not, split over the channels or not: exactly NumPy's y + bias then max(y, 0),
    and dy * (y > 0), including at zero and for negative zero."""
    monkeypatch.setattr(parallel, "MIN_PART_ITEMS", 1)  # split even these small arrays
    monkeypatch.setattr(fast_relu, "NUMPY_BELOW", 1)  # and compile them
    rng = np.random.default_rng(5)
    z = rng.standard_normal((6, 2, 3, 5)).astype(dtype).reshape(6, -1)
    z[0, :4] = [0, -0.0, 1e-30, -1e-30]
    b = rng.standard_normal(6).astype(dtype) if bias else None
    expected = z + (b[:, None] if bias else 0)
    expected = np.maximum(expected, 0) if relu else expected
    y = z.copy()
    with parallel.engine_threads() if threads else contextlib.nullcontext():
        fast_relu.add_bias_relu(y, b, relu)
        dy = rng.standard_normal((6, 2, 3, 5)).astype(dtype)
        dz = fast_relu.relu_adjoint(dy, y.reshape(dy.shape))
    np.testing.assert_array_equal(y, expected)
    assert dz.shape == (6, 30) and dz.dtype == dtype
    np.testing.assert_array_equal(dz, dy.reshape(6, -1) * (y > 0))


ONE_IMAGE = """
import sys
import numpy as np
from clearcnn import ops
from clearcnn.presets import build_preset
ops.set_backend("fast")
model = build_preset("seed")
model.predict(np.zeros((1, 32, 32, 3), np.float32), verbose=0)
print("numba" in sys.modules)
"""


@pytest.mark.skipif(not compiled_kernels.AVAILABLE, reason="Numba is not installed")
def test_one_image_through_the_tutorials_network_needs_no_numba():
    """Its arrays are too small for the compiled kernels to pay (fast/relu.py, pooling over a batch of one):
    predicting one image neither imports Numba nor loads its kernels, which would cost 100 MB and more."""
    result = subprocess.run([sys.executable, "-c", ONE_IMAGE], capture_output=True, text=True, check=True)
    assert result.stdout.split()[-1] == "False"
