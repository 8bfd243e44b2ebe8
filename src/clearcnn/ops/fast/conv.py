"""2-D convolution, fast: the algorithm chosen per call, buffers kept in the layer's workspace, the work split
over the engine's threads, and bias and ReLU applied in the same pass as the product.

Four algorithms, the same numbers (reference/conv.py states them):
- "winograd": 3x3 stride-1 kernels by Winograd's F(4x4, 3x3), vectorised over the batch (winograd.py);
- "winograd_nhwc": the same with channels innermost, for one image or a few;
- "banded": other stride-1 kernels whose columns would not fit in the cache: im2col a band of rows at a time
  (banded.py);
- "im2col": every other shape, as the reference does it.
"""
import functools

import numpy as np

from . import banded, compiled, winograd
from .parallel import matmul, run_over_channels
from .relu import add_bias_relu, relu_adjoint
from .workspace import NoWorkspace, scratch

CACHE_BLOCK_BYTES = 512 * 1024  # about half of a core's L2 cache
# Below 16 images the batch fills one vector register or less, and the transforms vectorised over it lose to
# those vectorised over channels (32 or 64 numbers in the usual layers).
WINOGRAD_BATCH_FROM = 16
BANDED_FROM_BYTES = 8 << 20  # whole-image columns many times a core's L2 cache: below, one big product wins


def choose_algorithm(kernel_shape, geometry, batch):
    """"winograd" where it applies to an input of several channels and its compiled transforms have a batch of
    WINOGRAD_BATCH_FROM images to vectorise over, else "winograd_nhwc" where the input or output channels are
    long enough instead; "banded" for other stride-1 kernels (but 1x1) whose columns would outgrow the cache;
    else "im2col".

    Winograd's 36 products per tile have the input's channels as their depth: for one channel each is an outer
    product, bound by writing its result, and im2col's single product of depth 9 wins. A few images of a few
    channels (an RGB input's first layer at batch 8) give neither vectorisation enough numbers to work on."""
    kh, kw, c, _ = kernel_shape
    if winograd.winograd_applies(kernel_shape, geometry) and c > 1:
        if batch >= WINOGRAD_BATCH_FROM and compiled.kernels(batch):
            return "winograd"
        if compiled.kernels(max(kernel_shape[2:])):
            return "winograd_nhwc"
    columns_bytes = 4 * kh * kw * c * geometry.out_hw[0] * geometry.out_hw[1] * batch
    if banded.applies(geometry) and kh * kw > 1 and columns_bytes > BANDED_FROM_BYTES:
        return "banded"
    return "im2col"


def im2col_forward(x, kernel, bias, geometry, workspace, relu=False):
    """Return z (F, OH, OW, N), passed through ReLU when `relu`, and what im2col_backward needs."""
    kh, kw, c, f = kernel.shape
    (oh, ow), n = geometry.out_hw, x.shape[3]
    padded = scratch().get("padded", (c, *geometry.padded_hw, n), x.dtype) if geometry.is_padded() else None
    cols = workspace.get("cols", (kh * kw * c, oh * ow * n), x.dtype)
    xp, columns = geometry.pad(x, out=padded), cols.reshape(kh, kw, c, oh, ow, n)
    if (kernels := _compiled_taps(geometry, xp)) is not None:
        run_over_channels(lambda start, stop: kernels.bands.gather(xp, 0, oh, kh, kw, *geometry.dilation, columns,
                                                                   start, stop), x, passes=kh * kw)
    else:
        windows = geometry.view(xp)
        run_over_channels(lambda start, stop: np.copyto(columns[:, :, start:stop], windows[:, :, start:stop]), x,
                          passes=kh * kw)
    y = matmul(kernel.reshape(kh * kw * c, f).T, cols)
    add_bias_relu(y, bias, relu)
    return y.reshape(f, oh, ow, n), (cols, y if relu else None)


def im2col_backward(dy, kernel, state, geometry, input_grad, workspace):
    """Gradients (dx, dkernel, dbias), taken through the ReLU when forward applied one."""
    cols, relu_output = state
    kh, kw, c, f = kernel.shape
    (oh, ow), n = geometry.out_hw, dy.shape[3]
    dy2 = np.ascontiguousarray(dy).reshape(f, oh * ow * n) if relu_output is None else relu_adjoint(dy, relu_output)
    dkernel = matmul(cols, dy2.T).reshape(kernel.shape)
    dbias = dy2.sum(axis=1)
    dx = None
    if input_grad:
        dcols = matmul(kernel.reshape(kh * kw * c, f), dy2, out=scratch().get("dcols", cols.shape, dy2.dtype))
        dx = scatter(geometry, dcols.reshape(kh, kw, c, oh, ow, n))
    return dx, dkernel, dbias


def _compiled_taps(geometry, array):
    """The compiled kernels when banded's compiled gather and its adjoint apply to this stride-1 geometry and
    this C-contiguous (., ., N) array: a batch long enough to vectorise over."""
    if banded.applies(geometry) and array.flags.c_contiguous:
        return compiled.kernels(array.shape[-1])
    return None


def scatter(geometry, windows):
    """Geometry.scatter split over the threads by channels, a few channels at a time, so that the block being
    summed into stays in cache across all taps; for stride 1, by the compiled adjoint of banded's gather."""
    _, _, c, _, _, n = windows.shape
    shape = (c, *geometry.padded_hw, n)
    # Without padding the result is handed back as it is, so it must not live in the scratch space.
    dxp = scratch().get("padded", shape, windows.dtype) if geometry.is_padded() else np.empty(shape, windows.dtype)
    block = max(1, CACHE_BLOCK_BYTES // (dxp[0].nbytes or 1))
    kernels = _compiled_taps(geometry, windows)

    def add_taps(start, stop):
        if kernels is not None:
            dxp[start:stop] = 0
            kernels.bands.scatter_add(windows, 0, 0, *geometry.dilation, dxp, start, stop)
            return
        for first in range(start, stop, block):
            geometry.scatter_channels(windows, dxp, first, min(first + block, stop))

    run_over_channels(add_taps, dxp, passes=len(geometry.taps()))
    return np.ascontiguousarray(geometry.unpad(dxp))


ALGORITHMS = {"im2col": (im2col_forward, im2col_backward), "banded": (banded.banded_forward, banded.banded_backward),
              "winograd": (winograd.conv2d_winograd_forward, winograd.conv2d_winograd_backward),
              "winograd_nhwc": (winograd.conv2d_winograd_nhwc_forward, winograd.conv2d_winograd_nhwc_backward)}
# Forwards for inference, where keeping what backward needs costs work: backward, should one follow, computes
# it again.
INFERENCE = {"winograd": functools.partial(winograd.conv2d_winograd_forward, keep_tiles=False)}


def conv2d_forward(x, kernel, bias, geometry, activation, workspace=None, training=True):
    """reference.conv2d_forward's result; ReLU is fused into the algorithm's last pass, other activations
    follow it."""
    relu = activation.name == "relu"
    algorithm = choose_algorithm(kernel.shape, geometry, x.shape[3])
    forward = ALGORITHMS[algorithm][0] if training else INFERENCE.get(algorithm, ALGORITHMS[algorithm][0])
    z, state = forward(x, kernel, bias, geometry, workspace or NoWorkspace, relu)
    if relu:
        return z, (algorithm, state, None, None)
    y = activation.forward(z)
    return y, (algorithm, state, z, y)


def conv2d_backward(dy, kernel, cache, geometry, activation, input_grad=True, workspace=None):
    """reference.conv2d_backward's gradients, for conv2d_forward's cache."""
    algorithm, state, z, y = cache
    dz = dy if z is None else activation.backward(z, y, dy)
    return ALGORITHMS[algorithm][1](dz, kernel, state, geometry, input_grad, workspace or NoWorkspace)
