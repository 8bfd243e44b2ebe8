"""2-D convolution (cross-correlation, no kernel flip, as Keras and the article do it).

Layout: x (C, H, W, N), kernel (kh, kw, C, F) in Keras's order, y (F, OH, OW, N).
Forward is im2col + one matrix product:

    cols[(i, j, c), (y, x, n)] = xp[c, y*sh + i*dh, x*sw + j*dw, n]        (Geometry.view)
    y[f, (y, x, n)]            = sum_(i, j, c) kernel[i, j, c, f] * cols[(i, j, c), (y, x, n)] + bias[f]

Backward follows from the same product: dkernel = cols @ dy^T, dbias = sum of dy, dcols = kernel @ dy,
and dx is dcols summed back onto the pixels each window read (Geometry.scatter).
"""
import numpy as np

from .workspace import NoWorkspace


def conv2d_forward(x, kernel, bias, geometry, workspace=NoWorkspace):
    """Return y (F, OH, OW, N) and the im2col columns, kept for the backward pass (in `workspace`)."""
    kh, kw, c, f = kernel.shape
    (oh, ow), n = geometry.out_hw, x.shape[3]
    padded = workspace.get("padded", (c, *geometry.padded_hw, n), x.dtype) if geometry.is_padded() else None
    cols = workspace.get("cols", (kh * kw * c, oh * ow * n), x.dtype)
    np.copyto(cols.reshape(kh, kw, c, oh, ow, n), geometry.view(geometry.pad(x, out=padded)))
    y = kernel.reshape(kh * kw * c, f).T @ cols
    if bias is not None:
        y += bias[:, None]
    return y.reshape(f, oh, ow, n), cols


def conv2d_backward(dy, kernel, cols, geometry, input_grad=True, workspace=NoWorkspace):
    """Gradients (dx, dkernel, dbias) for upstream dy (F, OH, OW, N); dx is None when not wanted."""
    kh, kw, c, f = kernel.shape
    (oh, ow), n = geometry.out_hw, dy.shape[3]
    dy2 = np.ascontiguousarray(dy).reshape(f, oh * ow * n)
    dkernel = (cols @ dy2.T).reshape(kernel.shape)
    dbias = dy2.sum(axis=1)
    dx = None
    if input_grad:
        dcols = np.matmul(kernel.reshape(kh * kw * c, f), dy2, out=workspace.get("dcols", cols.shape, dy2.dtype))
        padded = workspace.get("padded", (c, *geometry.padded_hw, n), dy2.dtype) if geometry.is_padded() else None
        dx = geometry.scatter(dcols.reshape(kh, kw, c, oh, ow, n), out=padded)
    return dx, dkernel, dbias
