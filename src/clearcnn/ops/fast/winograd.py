"""3x3 stride-1 convolution by Winograd's minimal filtering, F(4x4, 3x3) (Lavin and Gray, 2015).

The same convolution as reference/conv.py, with 4x fewer multiplications. The output is cut into 4x4 tiles; the 6x6
input tile d that a 4x4 output tile reads, and the 3x3 kernel g, are carried into a 6x6 "Winograd domain"
where the convolution becomes an element-wise product, summed over input channels:

    V = B_T d B_T^T            (per tile and channel)
    U = G g G^T                (per kernel; tiny)
    M[a, b] = U[a, b] @ V[a, b]  for each of the 36 positions (a, b): an (F, C) by (C, tiles) matrix product
    y = A_T M A_T^T            (per tile and filter)

36 products do 36 multiplications per 16 outputs where im2col does 144. Tiles are the windows of a 6x6,
stride-4 Geometry, so reading them (view) and summing gradients back (scatter) is the mechanism the other
window ops use. Each step is linear, so backward is each step's transpose, in reverse order:

    dM = A_T^T dy A_T,   dU[a, b] = dM[a, b] @ V[a, b]^T,   dg = G^T dU G,
    dV[a, b] = U[a, b]^T @ dM[a, b],   dd = B_T^T dV B_T,  then dd is scattered back onto the pixels.

M and dM, as large as V, are never held whole: the products and the output transform (and backward, the
output transform's adjoint and both products) go a block of tiles at a time, so that each block of M is read
from the cache rather than from memory. V is kept whole, for backward.

The matrices are those of the interpolation points 0, 1, -1, 2, -2 (and infinity); their entries are small
integers and simple fractions, so float32 loses little: about ten times im2col's rounding error, which
tests/test_winograd.py bounds against float64 and PyTorch.
"""
import functools

import numpy as np

from ..geometry import Geometry
from ..layout import swap_batch_axis
from . import compiled, parallel
from .parallel import run, run_over_channels
from .workspace import scratch

B_T = np.array([[4, 0, -5, 0, 1, 0],
                [0, -4, -4, 1, 1, 0],
                [0, 4, -4, -1, 1, 0],
                [0, -2, -1, 2, 1, 0],
                [0, 2, -1, -2, 1, 0],
                [0, 4, 0, -5, 0, 1]], dtype=float)
G = np.array([[1 / 4, 0, 0],
              [-1 / 6, -1 / 6, -1 / 6],
              [-1 / 6, 1 / 6, -1 / 6],
              [1 / 24, 1 / 12, 1 / 6],
              [1 / 24, -1 / 12, 1 / 6],
              [0, 0, 1]])
A_T = np.array([[1, 1, 1, 1, 1, 0],
                [0, 1, -1, 2, -2, 0],
                [0, 1, 1, 4, 4, 0],
                [0, 1, -1, 8, -8, 1]], dtype=float)
TILE, ALPHA = A_T.shape  # 4x4 outputs from 6x6 inputs
BLOCK_BYTES = 1 << 20  # a block's products, kept within a core's L2 cache
# Training keeps a layer's input tiles V for backward up to this size (2.25 times the input, or more): above
# it, V would outweigh the memory of the rest of the network, so only the input is kept, and backward
# transforms it again into shared scratch, where dV then overwrites it.
KEEP_TILES_BYTES = 32 << 20
# A tile transform does a 6-point transform along each axis of each tile, and the tiles overlap: some six
# multiply-adds for each number it reads or writes, where run_over_channels counts one pass. So its parts may
# hold six times fewer numbers, and one image's or a few images' transforms split over the threads too.
TRANSFORM_PASSES = ALPHA
KRON_G = np.kron(G, G)  # (36, 9): the kernel transform G g G^T on g flattened (kernel_tiles)


def winograd_applies(kernel_shape, geometry):
    """True for the convolutions F(4x4, 3x3) computes: 3x3 kernels, stride 1, no dilation."""
    return (tuple(kernel_shape[:2]) == (3, 3) and geometry.strides == (1, 1) and geometry.dilation == (1, 1))


def tile_geometry(geometry):
    """The 6x6, stride-4 windows that the 4x4 output tiles of a convolution's `geometry` read."""
    (oh, ow), ((top, _), (left, _)) = geometry.out_hw, geometry.pads
    return tiles_over(geometry.in_hw, top, left, (-(-oh // TILE), -(-ow // TILE)))


@functools.lru_cache(maxsize=256)  # a Geometry is immutable, and building one costs more than using it
def tiles_over(in_hw, top, left, tiles_hw):
    """The tile Geometry of tiles_hw tiles over an (H, W) image with `top` and `left` padding. Where an output
    side is not a multiple of 4, rows or columns of zeros at the bottom or right complete the last tiles;
    their extra outputs are dropped."""
    bottom, right = (TILE * t + ALPHA - TILE - n - before for t, n, before in zip(tiles_hw, in_hw, (top, left)))
    return Geometry.of(in_hw, (ALPHA, ALPHA), (TILE, TILE), padding=((top, bottom), (left, right)))


def sandwich(left, d, right):
    """left @ d @ right^T on the two leading axes of d, for every index of the others."""
    rows = np.tensordot(left.astype(d.dtype), d, axes=(1, 0))
    return np.tensordot(right.astype(d.dtype), rows, axes=(1, 1)).swapaxes(0, 1)


def kernel_tiles(kernel):
    """U (36, C, F): U[6a + b, c, f] = (G g G^T)[a, b] for each 3x3 kernel g = kernel[:, :, c, f]. One matrix
    product: flattened row by row, G g G^T is kron(G, G) times g flattened. Kept in the layer's workspace
    while its kernel is unchanged (Workspace.reuse): comparing the kernel costs a fraction of the product."""
    c, f = kernel.shape[2:]
    return (KRON_G.astype(kernel.dtype) @ kernel.reshape(9, c * f)).reshape(ALPHA * ALPHA, c, f)


def kernel_tiles_adjoint(du):
    """dkernel (3, 3, C, F) from dU (36, C, F): G^T dU G, the transpose of kernel_tiles."""
    c, f = du.shape[1:]
    return (KRON_G.T.astype(du.dtype) @ du.reshape(ALPHA * ALPHA, c * f)).reshape(3, 3, c, f)


def conv2d_winograd_forward(x, kernel, bias, geometry, workspace, relu=False, keep_tiles=None):
    """Return y (F, OH, OW, N), passed through ReLU when `relu`, and what backward needs, for x (C, H, W, N)
    and kernel (3, 3, C, F). The products and the output transform go a block of tiles at a time, so that each
    block's products are still in the cache when the transform reads them. Without `keep_tiles` (inference,
    or by default V over KEEP_TILES_BYTES) the input transform goes block by block too and V is never held
    whole; a backward pass, should one follow, transforms the input again."""
    c, f, n = kernel.shape[2], kernel.shape[3], x.shape[3]
    tiles = tile_geometry(geometry)
    (th, tw), (oh, ow) = tiles.out_hw, geometry.out_hw
    (top, _), (left, _) = tiles.pads
    if keep_tiles is None:
        keep_tiles = ALPHA * ALPHA * c * th * tw * n * x.itemsize <= KEEP_TILES_BYTES
    v = input_tiles(x, tiles, workspace) if keep_tiles else None
    columns = v.reshape(ALPHA * ALPHA, c, -1) if keep_tiles else None
    u = workspace.reuse("kernel_tiles", kernel_tiles, kernel)
    bias = np.zeros(f, x.dtype) if bias is None else bias
    y = np.empty((f, oh, ow, n), x.dtype)
    u_t = u.transpose(0, 2, 1)
    per_block = tiles_per_block(th * tw, ALPHA * ALPHA * (f + (0 if keep_tiles else c)) * n * x.itemsize)

    def products_then_outputs(first_block, stop_block):
        for first in range(first_block * per_block, min(stop_block * per_block, th * tw), per_block):
            count = min(per_block, th * tw - first)
            if keep_tiles:
                block = columns[:, :, first * n:(first + count) * n]
            else:
                block = scratch().get("tiles", (ALPHA, ALPHA, c, count, n), x.dtype)
                transforms().input_tiles(x, top, left, tw, first, block, 0, c)
                block = block.reshape(ALPHA * ALPHA, c, count * n)
            m = np.matmul(u_t, block, out=scratch().get("products", (ALPHA * ALPHA, f, count * n), x.dtype))
            transforms().output_tiles(m.reshape(ALPHA, ALPHA, f, count, n), bias, relu, first, y, 0, f)

    run(products_then_outputs, -(-th * tw // per_block))
    return y, (tiles, u, v, y if relu else None, None if keep_tiles else x)


def input_tiles(x, tiles, workspace, name="tiles"):
    """V (6, 6, C, tiles, N) of x (C, H, W, N): every tile's input transform, in `workspace` under `name`."""
    (th, tw), ((top, _), (left, _)) = tiles.out_hw, tiles.pads
    v = workspace.get(name, (ALPHA, ALPHA, x.shape[0], th * tw, x.shape[3]), x.dtype)
    run_over_channels(lambda start, stop: transforms().input_tiles(x, top, left, tw, 0, v, start, stop), x,
                      passes=TRANSFORM_PASSES)
    return v


def tiles_per_block(tiles, bytes_per_tile):
    """How many tiles a block of fused work takes: its products within BLOCK_BYTES, and blocks enough for
    every thread to have several (one tile at least)."""
    return max(1, min(BLOCK_BYTES // bytes_per_tile, tiles // (4 * parallel.WORKERS)))


def conv2d_winograd_backward(dy, kernel, cache, geometry, input_grad, workspace):
    """Gradients (dx, dkernel, dbias) for upstream dy (F, OH, OW, N), taken through the ReLU when forward
    applied one; dx is None when not wanted. Like forward, a block of tiles at a time: each block's dM goes
    into both products while it is in the cache. Input tiles transformed again here go to scratch, and each
    block's dV overwrites the block of V it has just read."""
    tiles, u, v, relu_output, x = cache
    c, f, n = kernel.shape[2], kernel.shape[3], dy.shape[3]
    th, tw = tiles.out_hw
    positions, count_all = ALPHA * ALPHA, th * tw
    transformed_again = v is None
    v = input_tiles(x, tiles, scratch(), "input_tiles") if transformed_again else v
    dy = np.ascontiguousarray(dy)
    relu, y = relu_output is not None, dy if relu_output is None else relu_output
    columns = v.reshape(positions, c, count_all * n)
    dv = None
    if input_grad:
        dv = columns if transformed_again else scratch().get("tile_grads", (positions, c, count_all * n), dy.dtype)
    per_block = tiles_per_block(count_all, positions * f * n * dy.itemsize)
    sums = {}  # (dU, dbias) of each thread's blocks, by its first block

    def gradients_of_blocks(first_block, stop_block):
        du, dbias = np.zeros((positions, c, f), dy.dtype), np.zeros(f, dy.dtype)
        block_bias, product = np.empty(f, dy.dtype), np.empty((positions, c, f), dy.dtype)
        for first in range(first_block * per_block, min(stop_block * per_block, count_all), per_block):
            count = min(per_block, count_all - first)
            dm = scratch().get("products", (ALPHA, ALPHA, f, count, n), dy.dtype)
            transforms().output_tiles_adjoint(dy, y, relu, first, dm, block_bias, 0, f)
            dm, part = dm.reshape(positions, f, count * n), slice(first * n, (first + count) * n)
            du += np.matmul(columns[:, :, part], dm.transpose(0, 2, 1), out=product)
            dbias += block_bias
            if input_grad:
                np.matmul(u, dm, out=dv[:, :, part])
        sums[first_block] = (du, dbias)

    run(gradients_of_blocks, -(-count_all // per_block))
    dkernel, dbias = added_in_order(sums)
    dx = None
    if input_grad:
        (top, _), (left, _) = tiles.pads
        dx = np.empty((c, *tiles.in_hw, n), dy.dtype)
        dv = dv.reshape(ALPHA, ALPHA, c, th, tw, n)
        run_over_channels(lambda start, stop: transforms().input_tiles_adjoint(dv, top, left, dx, start, stop), dx,
                          passes=TRANSFORM_PASSES)
    return dx, dkernel, dbias


# --- channels innermost: for one image or a few ----------------------------------------------------------
#
# The tile transforms vectorise over their arrays' last axis, the batch. With one image that axis has one
# number and the transforms crawl.
# Swapped to (N, H, W, C), the same transforms run over images and vectorise over channels, and each of the
# 36 products becomes (tiles, C) by (C, F). The transforms' bias goes per image there, so the bias is added
# in the Winograd domain instead, at position (1, 1): column 1 of A_T is all ones, so a constant added to
# M[1, 1] is added to every output of the tile. Its gradient is then the sum of dM[1, 1].
# The results go back as (C, H, W, N) views of the NHWC arrays, not copies: the next layer, when it is one of
# these too, swaps the view back for free, and the other ops read any strides.
BIAS_POSITION = ALPHA + 1  # (1, 1), flattened


def conv2d_winograd_nhwc_forward(x, kernel, bias, geometry, workspace, relu=False):
    """conv2d_winograd_forward's result, computed with channels innermost. Each thread takes a run of images
    through all three steps (input tiles, products, output tiles), one handing over per call rather than one per
    step."""
    c, f, n = kernel.shape[2], kernel.shape[3], x.shape[3]
    tiles = tile_geometry(geometry)
    (th, tw), (oh, ow) = tiles.out_hw, geometry.out_hw
    (top, _), (left, _) = tiles.pads
    x = swap_batch_axis(x)
    v = workspace.get("tiles", (ALPHA, ALPHA, n, th * tw, c), x.dtype)
    u = workspace.reuse("kernel_tiles", kernel_tiles, kernel)
    y = np.empty((n, oh, ow, f), x.dtype)

    def images(start, stop):
        transforms().input_tiles(x, top, left, tw, 0, v, start, stop)
        count = (stop - start) * th * tw
        m = np.matmul(v[:, :, start:stop].reshape(ALPHA * ALPHA, count, c), u,
                      out=scratch().get("products", (ALPHA * ALPHA, count, f), x.dtype))
        if bias is not None:
            m[BIAS_POSITION] += bias
        m = m.reshape(ALPHA, ALPHA, stop - start, th * tw, f)
        transforms().output_tiles(m, np.zeros(stop - start, x.dtype), relu, 0, y[start:stop], 0, stop - start)

    run(images, n, grain=images_per_part(th * tw, c, f))
    return np.swapaxes(y, 0, -1), (tiles, u, v, y if relu else None)


def conv2d_winograd_nhwc_backward(dy, kernel, cache, geometry, input_grad, workspace):
    """conv2d_winograd_backward's gradients, for conv2d_winograd_nhwc_forward's cache; a run of images per
    thread, as forward, each thread's dU and bias gradient added at the end, in order."""
    tiles, u, v, relu_output = cache
    c, f, n = kernel.shape[2], kernel.shape[3], dy.shape[3]
    th, tw = tiles.out_hw
    (top, _), (left, _) = tiles.pads
    positions = ALPHA * ALPHA
    dy = swap_batch_axis(dy)
    relu, y = relu_output is not None, dy if relu_output is None else relu_output
    dx = np.empty((n, *tiles.in_hw, c), dy.dtype) if input_grad else None
    sums = {}  # (dU, dbias) of each run of images, by its first image

    def images(start, stop):
        count = (stop - start) * th * tw
        dm = scratch().get("products", (ALPHA, ALPHA, stop - start, th * tw, f), dy.dtype)
        sums_per_image = np.empty(stop - start, dy.dtype)  # not the bias gradient: that is dM[1, 1]'s sum
        transforms().output_tiles_adjoint(dy[start:stop], y[start:stop], relu, 0, dm, sums_per_image, 0,
                                          stop - start)
        dm = dm.reshape(positions, count, f)
        du = np.matmul(v[:, :, start:stop].reshape(positions, count, c).transpose(0, 2, 1), dm)
        sums[start] = (du, dm[BIAS_POSITION].sum(axis=0))
        if input_grad:
            dv = np.matmul(dm, u.transpose(0, 2, 1), out=scratch().get("tile_grads", (positions, count, c), dy.dtype))
            dv = dv.reshape(ALPHA, ALPHA, stop - start, th, tw, c)
            transforms().input_tiles_adjoint(dv, top, left, dx[start:stop], 0, stop - start)

    run(images, n, grain=images_per_part(th * tw, c, f, passes=2 + input_grad))
    dkernel, dbias = added_in_order(sums)
    return (None if dx is None else np.swapaxes(dx, 0, -1)), dkernel, dbias


def added_in_order(sums):
    """(dkernel, dbias) from each part's (dU, dbias), keyed by where the part starts (parallel.added_in_order)."""
    du = parallel.added_in_order({start: du for start, (du, _) in sums.items()})
    dbias = parallel.added_in_order({start: dbias for start, (_, dbias) in sums.items()})
    return kernel_tiles_adjoint(du), dbias


def images_per_part(tiles, c, f, passes=1):
    """The grain of a run over images for one image's `tiles` tiles: its products' arithmetic (36 of C by F per
    tile, `passes` times) or its transforms' numbers, whichever is worth handing over first."""
    return parallel.part_grain(2.0 * passes * ALPHA * ALPHA * tiles * c * f,
                               TRANSFORM_PASSES * passes * ALPHA * ALPHA * tiles * (c + f))


# --- the four tile transforms ---------------------------------------------------------------------

class NumPyTransforms:
    """The tile transforms in NumPy: the reference. Same signatures as the compiled ones (jit/winograd.py):
    each works on channels (or filters) start to stop of its output."""

    @staticmethod
    def input_tiles(x, top, left, tiles_w, first_tile, v, start, stop):
        count = v.shape[3]  # rows of tiles down to the block's last, and at least down to the image's last row
        tiles_h = max(-(-(first_tile + count) // tiles_w), -(-(x.shape[1] + top - ALPHA + TILE) // TILE))
        tiles = tiles_over(x.shape[1:3], top, left, (tiles_h, tiles_w))
        windows = tiles.view(tiles.pad(x[start:stop]))  # (6, 6, C, TH, TW, N)
        windows = windows.reshape(*windows.shape[:3], -1, windows.shape[-1])[:, :, :, first_tile:first_tile + count]
        v[:, :, start:stop] = sandwich(B_T, windows, B_T)

    @staticmethod
    def input_tiles_adjoint(dv, top, left, dx, start, stop):
        windows = sandwich(B_T.T, dv[:, :, start:stop], B_T.T)
        dx[start:stop] = tiles_over(dx.shape[1:3], top, left, dv.shape[3:5]).scatter(windows)

    @staticmethod
    def output_tiles(m, bias, relu, first_tile, y, start, stop):
        out = sandwich(A_T, m[:, :, start:stop], A_T) + bias[start:stop, None, None]  # (4, 4, F, tiles, N)
        out = np.maximum(out, 0) if relu else out
        tiles_w = -(-y.shape[2] // TILE)
        for k in range(m.shape[3]):
            r, s = (TILE * i for i in divmod(first_tile + k, tiles_w))
            rows, cols = min(TILE, y.shape[1] - r), min(TILE, y.shape[2] - s)
            y[start:stop, r:r + rows, s:s + cols] = out[:rows, :cols, :, k].transpose(2, 0, 1, 3)

    @staticmethod
    def output_tiles_adjoint(dy, y, relu, first_tile, dm, dbias, start, stop):
        g = dy[start:stop] * (y[start:stop] > 0) if relu else dy[start:stop]
        tiles_h, tiles_w = -(-g.shape[1] // TILE), -(-g.shape[2] // TILE)
        full = np.zeros((stop - start, TILE * tiles_h, TILE * tiles_w, g.shape[3]), dm.dtype)
        full[:, :g.shape[1], :g.shape[2]] = g
        tiles = as_tiles(full).reshape(TILE, TILE, stop - start, tiles_h * tiles_w, g.shape[3])
        block = tiles[:, :, :, first_tile:first_tile + dm.shape[3]]
        dm[:, :, start:stop] = sandwich(A_T.T, block, A_T.T)
        dbias[start:stop] = block.sum(axis=(0, 1, 3, 4))


def transforms():
    """The compiled tile transforms where they run, else the NumPy ones (whatever the batch: fast/conv.py's
    choose_algorithm declines Winograd for batches too small to vectorise over)."""
    kernels = compiled.kernels()
    return kernels.winograd if kernels else NumPyTransforms


def as_tiles(image):
    """(TILE, TILE, F, TH, TW, N) view of an (F, TILE*TH, TILE*TW, N) image: [p, q, f, ty, tx, n] is its
    pixel (TILE*ty + p, TILE*tx + q)."""
    f, h, w, n = image.shape
    return image.reshape(f, h // TILE, TILE, w // TILE, TILE, n).transpose(2, 4, 0, 1, 3, 5)
