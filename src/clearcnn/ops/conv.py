"""2-D convolution (cross-correlation, no kernel flip, as Keras and the article do it).

Layout: x (C, H, W, N), kernel (kh, kw, C, F) in Keras's order, y (F, OH, OW, N).
The reference algorithm, and the one for every shape, is im2col + one matrix product:

    cols[(i, j, c), (y, x, n)] = xp[c, y*sh + i*dh, x*sw + j*dw, n]        (Geometry.view)
    y[f, (y, x, n)]            = sum_(i, j, c) kernel[i, j, c, f] * cols[(i, j, c), (y, x, n)] + bias[f]

Backward follows from the same product: dkernel = cols @ dy^T, dbias = sum of dy, dcols = kernel @ dy,
and dx is dcols summed back onto the pixels each window read (Geometry.scatter).

3x3 stride-1 convolutions go through winograd.py instead when its compiled tile transforms are installed
and have 8 images, or else 8 input and output channels, to vectorise over: the same numbers with 4x fewer
multiplications.
"""
import numpy as np

from . import backend, winograd
from .parallel import matmul, run_over_channels
from .workspace import NoWorkspace, scratch

WINOGRAD = {"winograd": (winograd.conv2d_winograd_forward, winograd.conv2d_winograd_backward),
            "winograd_nhwc": (winograd.conv2d_winograd_nhwc_forward, winograd.conv2d_winograd_nhwc_backward)}


def choose_algorithm(kernel_shape, geometry, batch):
    """"winograd" where it applies and its compiled transforms run (backend.compiled: installed, and a batch
    long enough to vectorise over), else "winograd_nhwc", the same with channels innermost, where the input
    or output channels are long enough instead, else "im2col". Measured with the compiled transforms
    (2 cores): at batch 64 Winograd is faster even on 3 input channels, CIFAR-CNN's first layer taking 10.5 ms
    per training step against 15.3 ms with im2col. At batch 1, CIFAR-CNN's 32-channel layer took 0.20 ms
    with channels innermost against 0.38 ms with im2col. Its 3-to-32-channel first layer alone took 0.10 ms
    against 0.08, but the next layer then reads its output without a copy: the whole one-image prediction
    took 0.96 to 1.11 ms, against 1.22 to 1.26 ms with im2col for that layer."""
    if winograd.winograd_applies(kernel_shape, geometry):
        if backend.compiled(batch):
            return "winograd"
        if backend.compiled(max(kernel_shape[2:])):  # too few images, but enough channels
            return "winograd_nhwc"
    return "im2col"


def conv2d_forward(x, kernel, bias, geometry, workspace=NoWorkspace, algorithm=None, relu=False):
    """Return y (F, OH, OW, N), passed through ReLU when `relu` (fused: no separate pass, no extra array),
    and a cache for conv2d_backward. `algorithm`: "im2col", "winograd", "winograd_nhwc", or None for
    choose_algorithm's pick."""
    algorithm = algorithm or choose_algorithm(kernel.shape, geometry, x.shape[3])
    if algorithm in WINOGRAD:
        y, state = WINOGRAD[algorithm][0](x, kernel, bias, geometry, workspace, relu)
        return y, (algorithm, state)
    kh, kw, c, f = kernel.shape
    (oh, ow), n = geometry.out_hw, x.shape[3]
    padded = scratch().get("padded", (c, *geometry.padded_hw, n), x.dtype) if geometry.is_padded() else None
    cols = workspace.get("cols", (kh * kw * c, oh * ow * n), x.dtype)
    windows, columns = geometry.view(geometry.pad(x, out=padded)), cols.reshape(kh, kw, c, oh, ow, n)
    run_over_channels(lambda start, stop: np.copyto(columns[:, :, start:stop], windows[:, :, start:stop]), x,
                      passes=kh * kw)
    y = matmul(kernel.reshape(kh * kw * c, f).T, cols)
    if bias is not None:
        y += bias[:, None]
    if relu:
        np.maximum(y, 0, out=y)
    y = y.reshape(f, oh, ow, n)
    return y, (algorithm, (cols, y if relu else None))


def conv2d_backward(dy, kernel, cache, geometry, input_grad=True, workspace=NoWorkspace):
    """Gradients (dx, dkernel, dbias) for upstream dy (F, OH, OW, N), taken through the ReLU when forward
    applied one; dx is None when not wanted."""
    algorithm, state = cache
    if algorithm in WINOGRAD:
        return WINOGRAD[algorithm][1](dy, kernel, state, geometry, input_grad, workspace)
    cols, relu_output = state
    kh, kw, c, f = kernel.shape
    (oh, ow), n = geometry.out_hw, dy.shape[3]
    dy2 = np.ascontiguousarray(dy).reshape(f, oh * ow * n)
    if relu_output is not None:
        dy2 = dy2 * (relu_output.reshape(dy2.shape) > 0)
    dkernel = matmul(cols, dy2.T).reshape(kernel.shape)
    dbias = dy2.sum(axis=1)
    dx = None
    if input_grad:
        dcols = matmul(kernel.reshape(kh * kw * c, f), dy2, out=scratch().get("dcols", cols.shape, dy2.dtype))
        padded = scratch().get("padded", (c, *geometry.padded_hw, n), dy2.dtype) if geometry.is_padded() else None
        dx = geometry.scatter(dcols.reshape(kh, kw, c, oh, ow, n), out=padded)
    return dx, dkernel, dbias
