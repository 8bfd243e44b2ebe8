"""3x3 stride-1 convolution by Winograd's minimal filtering, F(2x2, 3x3) (Lavin and Gray, 2015).

The same convolution as conv.py, with 2.25x fewer multiplications. The output is cut into 2x2 tiles; the
4x4 input tile d that a 2x2 output tile reads, and the 3x3 kernel g, are carried into a 4x4 "Winograd
domain" where the convolution becomes an element-wise product, summed over input channels:

    V = B_T d B_T^T            (per tile and channel; additions only)
    U = G g G^T                (per kernel; tiny)
    M[a, b] = U[a, b] @ V[a, b]  for each of the 16 positions (a, b): a (F, C) by (C, tiles) matrix product
    y = A_T M A_T^T            (per tile and filter; additions only)

16 products of (F, C) by (C, tiles) do 16 multiplications per 4 outputs where im2col does 36. Tiles are
the windows of a 4x4, stride-2 Geometry, so reading them (view) and summing gradients back (scatter) is
the same mechanism the other window ops use. Each step above is linear, so backward is each step's
transpose, in reverse order:

    dM = A_T^T dy A_T,   dU[a, b] = dM[a, b] @ V[a, b]^T,   dg = G^T dU G,
    dV[a, b] = U[a, b]^T @ dM[a, b],   dd = B_T^T dV B_T,  then dd is scattered back onto the pixels.
"""
import numpy as np

from . import backend
from .parallel import matmul, run_over_channels
from .windows import Geometry
from .workspace import NoWorkspace, scratch

B_T = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]])
G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])
A_T = np.array([[1, 1, 1, 0], [0, 1, -1, -1]])


def winograd_applies(kernel_shape, geometry):
    """True for the convolutions F(2x2, 3x3) computes: 3x3 kernels, stride 1, no dilation."""
    return (tuple(kernel_shape[:2]) == (3, 3) and geometry.strides == (1, 1) and geometry.dilation == (1, 1))


def tile_geometry(geometry):
    """The 4x4, stride-2 windows that the 2x2 output tiles read. When an output side is odd, one more row
    or column of zeros at the bottom or right completes the last tile; its extra outputs are dropped."""
    (oh, ow), ((top, bottom), (left, right)) = geometry.out_hw, geometry.pads
    return Geometry.of(geometry.in_hw, (4, 4), (2, 2), padding=((top, bottom + oh % 2), (left, right + ow % 2)))


def conv2d_winograd_forward(x, kernel, bias, geometry, workspace=NoWorkspace, relu=False):
    """Return y (F, OH, OW, N), passed through ReLU when `relu`, and what backward needs, for x (C, H, W, N)
    and kernel (3, 3, C, F)."""
    c, f, n = kernel.shape[2], kernel.shape[3], x.shape[3]
    tiles = tile_geometry(geometry)
    (th, tw), (oh, ow) = tiles.out_hw, geometry.out_hw
    padded = tiles.pad(x, out=scratch().get("padded", (c, *tiles.padded_hw, n), x.dtype))
    v = workspace.get("tiles", (4, 4, c, th, tw, n), x.dtype)
    run_over_channels(lambda start, stop: kernels().input_tiles(padded, v, start, stop), padded)
    u = np.einsum("ai,ijcf,bj->abfc", G, kernel, G).astype(kernel.dtype).reshape(16, f, c)
    m = matmul(u, v.reshape(16, c, -1), out=scratch().get("products", (16, f, th * tw * n), x.dtype))
    m, bias = m.reshape(4, 4, f, th, tw, n), np.zeros(f, x.dtype) if bias is None else bias
    y = np.empty((f, oh, ow, n), x.dtype)
    run_over_channels(lambda start, stop: kernels().output_tiles(m, bias, relu, y, start, stop), y)
    return y, (tiles, u, v, y if relu else None)


def conv2d_winograd_backward(dy, kernel, cache, geometry, input_grad=True, workspace=NoWorkspace):
    """Gradients (dx, dkernel, dbias) for upstream dy (F, OH, OW, N), taken through the ReLU when forward
    applied one; dx is None when not wanted."""
    tiles, u, v, relu_output = cache
    c, f, n = kernel.shape[2], kernel.shape[3], dy.shape[3]
    th, tw = tiles.out_hw
    dy = np.ascontiguousarray(dy)
    relu, y = relu_output is not None, dy if relu_output is None else relu_output
    dm = scratch().get("products", (4, 4, f, th, tw, n), dy.dtype)
    dbias = np.empty(f, dy.dtype)
    run_over_channels(lambda start, stop: kernels().output_tiles_adjoint(dy, y, relu, dm, dbias, start, stop), dy)
    dm = dm.reshape(16, f, -1)
    du = matmul(dm, v.reshape(16, c, -1).transpose(0, 2, 1))
    dkernel = np.einsum("ai,abfc,bj->ijcf", G, du.reshape(4, 4, f, c), G).astype(kernel.dtype)
    dx = None
    if input_grad:
        dv = matmul(u.transpose(0, 2, 1), dm, out=scratch().get("tile_grads", (16, c, th * tw * n), dy.dtype))
        shape = (c, *tiles.padded_hw, n)
        # Without padding the gradient is handed back as it is, so it must not live in the scratch space.
        dxp = scratch().get("padded", shape, dy.dtype) if tiles.is_padded() else np.empty(shape, dy.dtype)
        dv = dv.reshape(4, 4, c, th, tw, n)
        run_over_channels(lambda start, stop: kernels().input_tiles_adjoint(dv, dxp, start, stop), dxp)
        dx = np.ascontiguousarray(tiles.unpad(dxp))
    return dx, dkernel, dbias


# --- the four tile transforms ---------------------------------------------------------------------

class NumPyKernels:
    """The tile transforms in NumPy: the reference. Same signatures as the compiled ones (compiled.py)."""

    @staticmethod
    def input_tiles(xp, v, start, stop):
        transform(B_T, Geometry.of(xp.shape[1:3], (4, 4), (2, 2)).view(xp[start:stop]), v[:, :, start:stop])

    @staticmethod
    def input_tiles_adjoint(dv, dxp, start, stop):
        dd = np.empty_like(dv[:, :, start:stop])
        transform(B_T.T, dv[:, :, start:stop], dd)
        dxp[start:stop] = Geometry.of(dxp.shape[1:3], (4, 4), (2, 2)).scatter(dd)

    @staticmethod
    def output_tiles(m, bias, relu, y, start, stop):
        f, th, tw, n = m[0, 0, start:stop].shape
        full = np.empty((f, 2 * th, 2 * tw, n), m.dtype)
        transform(A_T, m[:, :, start:stop], as_tiles(full))
        full += bias[start:stop, None, None, None]
        y[start:stop] = (np.maximum(full, 0) if relu else full)[:, :y.shape[1], :y.shape[2]]

    @staticmethod
    def output_tiles_adjoint(dy, y, relu, dm, dbias, start, stop):
        g = dy[start:stop] * (y[start:stop] > 0) if relu else dy[start:stop]
        f, th, tw, n = dm[0, 0, start:stop].shape
        full = np.zeros((f, 2 * th, 2 * tw, n), dm.dtype)
        full[:, :g.shape[1], :g.shape[2]] = g
        transform(A_T.T, as_tiles(full), dm[:, :, start:stop])
        dbias[start:stop] = g.sum(axis=(1, 2, 3))


def kernels():
    """The compiled tile transforms when installed and switched on, else the NumPy ones (whatever the batch:
    choose_algorithm already declined Winograd for small ones)."""
    return backend.compiled(backend.MIN_BATCH) or NumPyKernels


def as_tiles(image):
    """(2, 2, F, TH, TW, N) view of an (F, 2TH, 2TW, N) image: [p, q, f, ty, tx, n] is pixel (2ty+p, 2tx+q)."""
    f, h, w, n = image.shape
    return image.reshape(f, h // 2, 2, w // 2, 2, n).transpose(2, 4, 0, 1, 3, 5)


def transform(matrix, d, out):
    """out = matrix @ d @ matrix^T on the two leading (tile) axes of d, for a matrix of 0 and +-1."""
    rows = np.empty((matrix.shape[0], *d.shape[1:]), d.dtype)
    combine(matrix, d, rows)
    combine(matrix, np.moveaxis(rows, 1, 0), np.moveaxis(out, 1, 0))


def combine(matrix, d, out):
    """out[k] = sum_r matrix[k, r] * d[r], with one NumPy pass per term after the first two."""
    for k, row in enumerate(matrix):
        terms = sorted(((coefficient, d[r]) for r, coefficient in enumerate(row.tolist()) if coefficient),
                       key=lambda term: -term[0])  # start from a + term when there is one
        (first_sign, first), rest = terms[0], terms[1:]
        if first_sign > 0 and rest:
            (sign, second), rest = rest[0], rest[1:]
            (np.add if sign > 0 else np.subtract)(first, second, out=out[k])
        else:
            np.multiply(first, first_sign, out=out[k])
        for sign, term in rest:
            (np.add if sign > 0 else np.subtract)(out[k], term, out=out[k])
