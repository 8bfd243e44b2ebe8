"""Kernels compiled with Numba, for the steps NumPy measurably cannot make fast (backend.py chooses).

Winograd tile transforms. Why compiled: NumPy runs each transform as 8 or more passes over arrays four times the input's size, one
short batch-sized run at a time, and that costs more than the 2.25x fewer multiplications save (measured
on CIFAR-CNN's 32-channel 3x3 layer: input transform 13.5 ms in NumPy, 2.7 ms here, im2col 9.7 ms). Here
each transform is one pass: per tile 16 numbers in, 16 or 4 out. The batch axis is innermost, so the
compiler vectorises the loop over n. The four 1-D transforms below are the rows of winograd.B_T and
winograd.A_T and their transposes written out; the tests hold them to the NumPy path.
"""
import numba
import numpy as np

# nogil: ops/parallel.py runs parts of one call (ranges of channels) on several threads at once.
jit = numba.njit(cache=True, nogil=True)


@numba.njit(inline="always")
def _b_t(d0, d1, d2, d3):  # B_T @ d
    return d0 - d2, d1 + d2, d2 - d1, d1 - d3


@numba.njit(inline="always")
def _b(e0, e1, e2, e3):  # B_T^T @ e
    return e0, e1 - e2 + e3, e1 + e2 - e0, -e3


@numba.njit(inline="always")
def _a_t(m0, m1, m2, m3):  # A_T @ m
    return m0 + m1 + m2, m1 - m2 - m3


@numba.njit(inline="always")
def _a(y0, y1):  # A_T^T @ y
    return y0, y0 + y1, y0 - y1, -y1


# Each kernel works one tile at a time, in two 1-D passes like winograd.transform: the first fills the
# 4x4xN scratch t (it stays in the L1 cache), the second reads it. Loops over n are innermost.

@jit
def input_tiles(xp, v, start, stop):
    """v[:, :, c, ty, tx] = B_T @ d @ B_T^T for each 4x4 tile d = xp[c, 2ty:2ty+4, 2tx:2tx+4] (over n), for c or f in
    range(start, stop)."""
    tiles_h, tiles_w, batch = v.shape[3:]
    for c in range(start, stop):
        t = np.empty((4, 4, batch), v.dtype)
        for ty in range(tiles_h):
            for tx in range(tiles_w):
                r, s = 2 * ty, 2 * tx
                for j in range(4):
                    for n in range(batch):
                        t[0, j, n], t[1, j, n], t[2, j, n], t[3, j, n] = _b_t(
                            xp[c, r, s + j, n], xp[c, r + 1, s + j, n], xp[c, r + 2, s + j, n], xp[c, r + 3, s + j, n])
                for a in range(4):
                    for n in range(batch):
                        v[a, 0, c, ty, tx, n], v[a, 1, c, ty, tx, n], v[a, 2, c, ty, tx, n], v[a, 3, c, ty, tx, n] = \
                            _b_t(t[a, 0, n], t[a, 1, n], t[a, 2, n], t[a, 3, n])


@jit
def input_tiles_adjoint(dv, dxp, start, stop):
    """dxp = the sum over tiles of B_T^T @ dv @ B_T, each added onto the 4x4 pixels its tile read."""
    tiles_h, tiles_w, batch = dv.shape[3:]
    for c in range(start, stop):
        dxp[c] = 0
        t = np.empty((4, 4, batch), dv.dtype)
        for ty in range(tiles_h):
            for tx in range(tiles_w):
                r, s = 2 * ty, 2 * tx
                for b in range(4):
                    for n in range(batch):
                        t[0, b, n], t[1, b, n], t[2, b, n], t[3, b, n] = _b(
                            dv[0, b, c, ty, tx, n], dv[1, b, c, ty, tx, n], dv[2, b, c, ty, tx, n], dv[3, b, c, ty, tx, n])
                for i in range(4):
                    for n in range(batch):
                        d0, d1, d2, d3 = _b(t[i, 0, n], t[i, 1, n], t[i, 2, n], t[i, 3, n])
                        dxp[c, r + i, s, n] += d0
                        dxp[c, r + i, s + 1, n] += d1
                        dxp[c, r + i, s + 2, n] += d2
                        dxp[c, r + i, s + 3, n] += d3


@jit
def output_tiles(m, bias, relu, y, start, stop):
    """y[f, 2ty:2ty+2, 2tx:2tx+2] = A_T @ m[:, :, f, ty, tx] @ A_T^T + bias[f], then max(., 0) when relu;
    outputs past y's edge (odd sizes) are dropped. For f in range(start, stop)."""
    out_h, out_w = y.shape[1:3]
    tiles_h, tiles_w, batch = m.shape[3:]
    floor = 0.0 if relu else -np.inf
    for f in range(start, stop):
        t = np.empty((2, 4, batch), m.dtype)
        for ty in range(tiles_h):
            for tx in range(tiles_w):
                r, s = 2 * ty, 2 * tx
                for b in range(4):
                    for n in range(batch):
                        t[0, b, n], t[1, b, n] = _a_t(m[0, b, f, ty, tx, n], m[1, b, f, ty, tx, n],
                                                      m[2, b, f, ty, tx, n], m[3, b, f, ty, tx, n])
                for i in range(min(2, out_h - r)):
                    for n in range(batch):
                        y0, y1 = _a_t(t[i, 0, n], t[i, 1, n], t[i, 2, n], t[i, 3, n])
                        y[f, r + i, s, n] = max(y0 + bias[f], floor)
                        if s + 1 < out_w:
                            y[f, r + i, s + 1, n] = max(y1 + bias[f], floor)


@jit
def output_tiles_adjoint(dy, y, relu, dm, dbias, start, stop):
    """dm[:, :, f, ty, tx] = A_T^T @ g @ A_T for the 2x2 tile g of dy at (2ty, 2tx), zero past dy's edge
    and, when relu, where y <= 0; dbias[f] = the sum of g. For f in range(start, stop)."""
    out_h, out_w = dy.shape[1:3]
    tiles_h, tiles_w, batch = dm.shape[3:]
    for f in range(start, stop):
        g = np.zeros((2, 2, batch), dm.dtype)
        t = np.empty((4, 2, batch), dm.dtype)
        total = 0.0
        for ty in range(tiles_h):
            for tx in range(tiles_w):
                for i in range(2):
                    for j in range(2):
                        r, s = 2 * ty + i, 2 * tx + j
                        if r < out_h and s < out_w:
                            for n in range(batch):
                                g[i, j, n] = dy[f, r, s, n] * (y[f, r, s, n] > 0) if relu else dy[f, r, s, n]
                                total += g[i, j, n]
                        else:
                            g[i, j, :] = 0
                for j in range(2):
                    for n in range(batch):
                        t[0, j, n], t[1, j, n], t[2, j, n], t[3, j, n] = _a(g[0, j, n], g[1, j, n])
                for a in range(4):
                    for n in range(batch):
                        dm[a, 0, f, ty, tx, n], dm[a, 1, f, ty, tx, n], dm[a, 2, f, ty, tx, n], dm[a, 3, f, ty, tx, n] = \
                            _a(t[a, 0, n], t[a, 1, n])
        dbias[f] = total


# --- max pooling ------------------------------------------------------------------------------------
# NumPy needs a pass per window tap forward and four per tap backward (pool.py); measured on SEED-CNN's
# 3x3 stride-1 pools, backward took 13.5 ms of a 45 ms step. Here each is one pass, and forward records
# which tap won so that backward sends each gradient straight there.

@jit
def max_pool(xp, kernel, strides, dilation, y, winner, start, stop):
    """y[c, oy, ox] = the window's maximum over xp (padded with -inf); winner = the row-major number of the
    first tap holding it. For c in range(start, stop)."""
    (kh, kw), (sh, sw), (dh, dw) = kernel, strides, dilation
    out_h, out_w, batch = y.shape[1:]
    for c in range(start, stop):
        for oy in range(out_h):
            for ox in range(out_w):
                for n in range(batch):
                    y[c, oy, ox, n] = xp[c, oy * sh, ox * sw, n]
                    winner[c, oy, ox, n] = 0
                for tap in range(1, kh * kw):
                    r, s = oy * sh + (tap // kw) * dh, ox * sw + (tap % kw) * dw
                    for n in range(batch):
                        value = xp[c, r, s, n]
                        if value > y[c, oy, ox, n]:  # strictly: ties stay with the first tap
                            y[c, oy, ox, n] = value
                            winner[c, oy, ox, n] = tap


@jit
def max_pool_adjoint(dy, winner, kernel, strides, dilation, dxp, start, stop):
    """dxp = each window's gradient added onto the cell its winning tap read. For c in range(start, stop)."""
    (kh, kw), (sh, sw), (dh, dw) = kernel, strides, dilation
    out_h, out_w, batch = dy.shape[1:]
    for c in range(start, stop):
        dxp[c] = 0
        for oy in range(out_h):
            for ox in range(out_w):
                for n in range(batch):
                    tap = winner[c, oy, ox, n]
                    dxp[c, oy * sh + (tap // kw) * dh, ox * sw + (tap % kw) * dw, n] += dy[c, oy, ox, n]
