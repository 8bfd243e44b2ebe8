"""im2col in bands of output rows, for stride-1 kernels that Winograd does not take (5x5, 7x7, dilated).

Whole-image im2col writes kh*kw copies of the input to memory and reads them back: for a 5x5 kernel on a
small number of channels that traffic, not the products, is the cost. Here each band of output rows gets
its columns built, multiplied and dropped while they are still in the cache, one band after another on each
of the engine's threads. Nothing but the (padded) input is kept for the backward pass, which goes band by band
too and builds each band's columns again.
"""
import threading

import numpy as np

from . import compiled, parallel
from .relu import relu_adjoint
from .workspace import scratch

BAND_BYTES = 256 * 1024  # one band's columns: well inside a core's L2 cache, beside the band's output


def applies(geometry):
    return geometry.strides == (1, 1)


def _gather(xp, y0, y1, kh, kw, dh, dw, cols):
    """cols (kh, kw, C, y1 - y0, OW, N): the band's windows of padded xp, tap by tap."""
    kernels = compiled.kernels() if xp.flags.c_contiguous else None
    if kernels is not None:
        kernels.bands.gather(xp, y0, y1, kh, kw, dh, dw, cols, 0, cols.shape[2])
        return
    ow = cols.shape[4]
    for i in range(kh):
        for j in range(kw):
            np.copyto(cols[i, j], xp[:, y0 + i * dh: y1 + i * dh, j * dw: j * dw + ow])


def _scatter_add(cols, y0, first, dh, dw, dx_rows):
    """The adjoint of _gather, added into dx_rows, whose row 0 is padded input row `first`."""
    kernels = compiled.kernels()
    if kernels is not None:
        kernels.bands.scatter_add(cols, y0, first, dh, dw, dx_rows, 0, cols.shape[2])
        return
    kh, kw, _, rows, ow, _ = cols.shape
    for i in range(kh):
        for j in range(kw):
            dx_rows[:, y0 - first + i * dh: y0 - first + rows + i * dh, j * dw: j * dw + ow] += cols[i, j]


def banded_forward(x, kernel, bias, geometry, workspace, relu=False):
    """Return z (F, OH, OW, N), through ReLU when `relu`, and what banded_backward needs: the padded input."""
    kh, kw, c, f = kernel.shape
    (dh, dw), (oh, ow), n = geometry.dilation, geometry.out_hw, x.shape[3]
    padded = workspace.get("padded_input", (c, *geometry.padded_hw, n), x.dtype) if geometry.is_padded() else None
    xp = geometry.pad(x, out=padded)
    kernel_rows = kernel.reshape(kh * kw * c, f).T
    y = np.empty((f, oh, ow, n), x.dtype)
    rows = _band_rows(kh * kw * c, ow, n, x.itemsize, oh)

    def compute(start, stop):
        space = scratch()
        for band in range(start, stop):
            y0, y1 = band * rows, min(oh, (band + 1) * rows)
            cols = space.get("band_cols", (kh, kw, c, y1 - y0, ow, n), x.dtype)
            _gather(xp, y0, y1, kh, kw, dh, dw, cols)
            product = np.matmul(kernel_rows, cols.reshape(kh * kw * c, -1),
                                out=space.get("band_out", (f, (y1 - y0) * ow * n), x.dtype))
            if bias is not None:
                product += bias[:, None]
            if relu:
                np.maximum(product, 0, out=product)
            y[:, y0:y1] = product.reshape(f, y1 - y0, ow, n)

    flops = 2.0 * f * kh * kw * c * rows * ow * n
    parallel.run(compute, -(-oh // rows), grain=parallel.MIN_PART_FLOPS / flops)
    return y, (xp, y if relu else None)


def banded_backward(dy, kernel, state, geometry, input_grad, workspace):
    """Gradients (dx, dkernel, dbias), taken through the ReLU when forward applied one. Band by band, each thread
    over its own run of bands: the band's columns again, times dy's band, for dkernel; the kernel times dy's
    band, added back onto the input rows the band read, for dx. A thread sums into its own arrays (its runs of
    input rows overlap its neighbours' by kh - 1 rows), added together at the end."""
    xp, relu_output = state
    kh, kw, c, f = kernel.shape
    (dh, dw), (oh, ow), n = geometry.dilation, geometry.out_hw, dy.shape[3]
    dy = np.ascontiguousarray(dy) if relu_output is None else relu_adjoint(dy, relu_output).reshape(dy.shape)
    rows = _band_rows(kh * kw * c, ow, n, dy.itemsize, oh)
    kernel_rows = kernel.reshape(kh * kw * c, f)
    accumulate = np.float64 if dy.dtype == np.float64 else np.float32
    dxp = np.zeros((c, *geometry.padded_hw, n), dy.dtype) if input_grad else None
    dkernels, lock = {}, threading.Lock()

    def compute(start, stop):
        space = scratch()
        dkernel = np.zeros((kh * kw * c, f), accumulate)
        first, last = start * rows, min(oh, stop * rows)
        reach = (kh - 1) * dh
        if input_grad:
            dx_rows = space.get("band_dx", (c, last - first + reach, xp.shape[2], n), dy.dtype)
            dx_rows.fill(0)
        for band in range(start, stop):
            y0, y1 = band * rows, min(oh, (band + 1) * rows)
            cols = space.get("band_cols", (kh, kw, c, y1 - y0, ow, n), xp.dtype)
            _gather(xp, y0, y1, kh, kw, dh, dw, cols)
            dy_band = dy[:, y0:y1].reshape(f, -1)
            dkernel += cols.reshape(kh * kw * c, -1) @ dy_band.T
            if input_grad:
                np.matmul(kernel_rows, dy_band, out=cols.reshape(kh * kw * c, -1))  # the columns' gradient
                _scatter_add(cols, y0, first, dh, dw, dx_rows)
        with lock:
            dkernels[start] = dkernel
            if input_grad:
                dxp[:, first:last + reach] += dx_rows

    flops = 4.0 * f * kh * kw * c * rows * ow * n
    parallel.run(compute, -(-oh // rows), grain=parallel.MIN_PART_FLOPS / flops)
    dkernel = parallel.added_in_order(dkernels).astype(dy.dtype, copy=False).reshape(kernel.shape)
    dx = None
    if input_grad:
        dx = np.ascontiguousarray(geometry.unpad(dxp)) if geometry.is_padded() else dxp
    return dx, dkernel, dy.reshape(f, -1).sum(axis=1)


def _band_rows(column_rows, ow, n, itemsize, oh):
    """Output rows per band: as many as keep a band's columns within BAND_BYTES, at least one."""
    return max(1, min(oh, BAND_BYTES // max(column_rows * ow * n * itemsize, 1)))
