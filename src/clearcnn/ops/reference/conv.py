"""2-D convolution (cross-correlation: the kernel is not flipped, as in Keras), by im2col and one matrix product.

Layout: x (C, H, W, N), kernel (kh, kw, C, F) in Keras's order, y (F, OH, OW, N).

    cols[(i, j, c), (y, x, n)] = xp[c, y*sh + i*dh, x*sw + j*dw, n]        xp: x with its padding (Geometry.view)
    z[f, (y, x, n)]            = sum_(i, j, c) kernel[i, j, c, f] * cols[(i, j, c), (y, x, n)] + bias[f]
    y                          = activation(z)

Backward follows from the same product: dkernel = cols @ dz^T, dbias = the sum of dz, dcols = kernel @ dz,
and dx is dcols summed back onto the pixels each window read (Geometry.scatter, the adjoint of view).
"""
import numpy as np


def conv2d_forward(x, kernel, bias, geometry, activation, workspace=None, training=True):
    """Return y (F, OH, OW, N) and what conv2d_backward needs. `workspace` and `training` (False: a hint
    that no backward pass is likely to follow) are not used here."""
    kh, kw, c, f = kernel.shape
    (oh, ow), n = geometry.out_hw, x.shape[3]
    cols = geometry.view(geometry.pad(x)).reshape(kh * kw * c, oh * ow * n)  # the one copy: windows side by side
    z = kernel.reshape(kh * kw * c, f).T @ cols
    if bias is not None:
        z += bias[:, None]
    z = z.reshape(f, oh, ow, n)
    y = activation.forward(z)
    return y, (cols, z, y)


def conv2d_backward(dy, kernel, cache, geometry, activation, input_grad=True, workspace=None):
    """Gradients (dx, dkernel, dbias) for upstream dy (F, OH, OW, N); dx is None when not wanted."""
    cols, z, y = cache
    kh, kw, c, f = kernel.shape
    (oh, ow), n = geometry.out_hw, dy.shape[3]
    dz = np.ascontiguousarray(activation.backward(z, y, dy)).reshape(f, oh * ow * n)
    dkernel = (cols @ dz.T).reshape(kernel.shape)
    dbias = dz.sum(axis=1)
    dx = None
    if input_grad:
        dcols = kernel.reshape(kh * kw * c, f) @ dz
        dx = geometry.scatter(dcols.reshape(kh, kw, c, oh, ow, n))
    return dx, dkernel, dbias
