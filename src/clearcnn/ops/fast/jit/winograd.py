"""Winograd's tile transforms compiled with Numba (the NumPy reference: fast/winograd.py, NumPyTransforms).

In NumPy each transform is a pair of tensordots over arrays several times the image's size, plus the gathering
or scattering of overlapping tiles, and together they cost more than Winograd's 4x fewer multiplications save.
Here each is one pass over its data: per tile, 36 numbers in and 36 or 16 out. The batch axis is innermost, so
the compiler vectorises the loops over n. The four 1-D transforms below are the rows of winograd.B_T and
winograd.A_T and of their transposes, written out; the tests hold every kernel to the NumPy path.
"""
import numpy as np

from . import jit, njit_inline

# The transforms' integer coefficients as float32, so that float32 data stays float32 (a Python 4 would
# promote it to float64, half the vector width); float64 data stays float64.
_2, _4, _5, _8 = np.float32(2), np.float32(4), np.float32(5), np.float32(8)


@njit_inline
def _b_t(d0, d1, d2, d3, d4, d5):  # B_T @ d
    return (_4 * d0 - _5 * d2 + d4, d3 + d4 - _4 * (d1 + d2), _4 * (d1 - d2) - d3 + d4,
            _2 * (d3 - d1) - d2 + d4, _2 * (d1 - d3) - d2 + d4, _4 * d1 - _5 * d3 + d5)


@njit_inline
def _b(e0, e1, e2, e3, e4, e5):  # B_T^T @ e
    return (_4 * e0, _4 * (e2 - e1 + e5) + _2 * (e4 - e3), -_5 * e0 - _4 * (e1 + e2) - e3 - e4,
            e1 - e2 + _2 * (e3 - e4) - _5 * e5, e0 + e1 + e2 + e3 + e4, e5)


@njit_inline
def _a_t(m0, m1, m2, m3, m4, m5):  # A_T @ m
    return (m0 + m1 + m2 + m3 + m4, m1 - m2 + _2 * (m3 - m4), m1 + m2 + _4 * (m3 + m4),
            m1 - m2 + _8 * (m3 - m4) + m5)


@njit_inline
def _a(y0, y1, y2, y3):  # A_T^T @ y
    return (y0, y0 + y1 + y2 + y3, y0 - y1 + y2 - y3, y0 + _2 * y1 + _4 * y2 + _8 * y3,
            y0 - _2 * y1 + _4 * y2 - _8 * y3, y3)


# Each kernel works one tile at a time, in two 1-D passes like winograd.sandwich: the first fills a small
# scratch t (tile x tile x batch; it stays in the L1 cache), the second reads it. Loops over n are innermost.
# The loops that gather a tile from the image or scatter it back run to a bound read from an array (`six`,
# `four`), not to a literal: LLVM would unroll a literal bound into one copy of the n-loop per pixel, each with
# its own edge test, which made those loops slower, not faster. The transforms' own loops keep literal bounds,
# whose unrolled copies run faster.

@jit
def input_tiles(x, top, left, tiles_w, first_tile, v, start, stop):
    """v[:, :, c, k] = B_T @ d @ B_T^T for the 6x6 tile d = xp[c, 4ty:4ty+6, 4tx:4tx+6] (over n), where
    (ty, tx) is tile first_tile + k in row-major order, tiles_w to a row, and xp is x with `top` rows and
    `left` columns of zeros before it and as many as the tiles need after it. For c in range(start, stop)."""
    height, width = x.shape[1:3]
    count, batch = v.shape[3:]
    six = v.shape[0]
    for c in range(start, stop):
        d = np.empty((6, 6, batch), v.dtype)
        t = np.empty((6, 6, batch), v.dtype)
        for k in range(count):
            r, s = 4 * ((first_tile + k) // tiles_w) - top, 4 * ((first_tile + k) % tiles_w) - left
            for i in range(six):
                for j in range(six):
                    if 0 <= r + i < height and 0 <= s + j < width:
                        for n in range(batch):
                            d[i, j, n] = x[c, r + i, s + j, n]
                    else:
                        for n in range(batch):
                            d[i, j, n] = 0
            for j in range(6):
                for n in range(batch):
                    t[0, j, n], t[1, j, n], t[2, j, n], t[3, j, n], t[4, j, n], t[5, j, n] = _b_t(
                        d[0, j, n], d[1, j, n], d[2, j, n], d[3, j, n], d[4, j, n], d[5, j, n])
            for a in range(6):
                for n in range(batch):
                    v[a, 0, c, k, n], v[a, 1, c, k, n], v[a, 2, c, k, n], v[a, 3, c, k, n], v[a, 4, c, k, n], \
                        v[a, 5, c, k, n] = _b_t(t[a, 0, n], t[a, 1, n], t[a, 2, n], t[a, 3, n], t[a, 4, n], t[a, 5, n])


@jit
def input_tiles_adjoint(dv, top, left, dx, start, stop):
    """dx = the sum over tiles of B_T^T @ dv @ B_T, each added onto the pixels of x its tile read (those of
    the padding are dropped). For c in range(start, stop)."""
    height, width = dx.shape[1:3]
    tiles_h, tiles_w, batch = dv.shape[3:]
    six = dv.shape[0]
    for c in range(start, stop):
        dx[c] = 0
        t = np.empty((6, 6, batch), dv.dtype)
        d = np.empty((6, 6, batch), dv.dtype)
        for ty in range(tiles_h):
            for tx in range(tiles_w):
                r, s = 4 * ty - top, 4 * tx - left
                for b in range(6):
                    for n in range(batch):
                        t[0, b, n], t[1, b, n], t[2, b, n], t[3, b, n], t[4, b, n], t[5, b, n] = _b(
                            dv[0, b, c, ty, tx, n], dv[1, b, c, ty, tx, n], dv[2, b, c, ty, tx, n],
                            dv[3, b, c, ty, tx, n], dv[4, b, c, ty, tx, n], dv[5, b, c, ty, tx, n])
                for i in range(6):
                    for n in range(batch):
                        d[i, 0, n], d[i, 1, n], d[i, 2, n], d[i, 3, n], d[i, 4, n], d[i, 5, n] = _b(
                            t[i, 0, n], t[i, 1, n], t[i, 2, n], t[i, 3, n], t[i, 4, n], t[i, 5, n])
                for i in range(six):
                    for j in range(six):
                        if 0 <= r + i < height and 0 <= s + j < width:
                            for n in range(batch):
                                dx[c, r + i, s + j, n] += d[i, j, n]


@jit
def output_tiles(m, bias, relu, first_tile, y, start, stop):
    """y[f, 4ty:4ty+4, 4tx:4tx+4] = A_T @ m[:, :, f, k] @ A_T^T + bias[f], then max(., 0) when relu, where
    (ty, tx) is tile first_tile + k of y in row-major order; outputs past y's edge are dropped. For f in
    range(start, stop)."""
    out_h, out_w = y.shape[1:3]
    tiles_w = (out_w + 3) // 4
    count, batch = m.shape[3:]
    four = m.shape[0] - 2
    floor = np.float32(0) if relu else np.float32(-np.inf)
    for f in range(start, stop):
        t = np.empty((4, 6, batch), m.dtype)
        o = np.empty((4, 4, batch), m.dtype)
        for k in range(count):
            r, s = 4 * ((first_tile + k) // tiles_w), 4 * ((first_tile + k) % tiles_w)
            for b in range(6):
                for n in range(batch):
                    t[0, b, n], t[1, b, n], t[2, b, n], t[3, b, n] = _a_t(
                        m[0, b, f, k, n], m[1, b, f, k, n], m[2, b, f, k, n], m[3, b, f, k, n], m[4, b, f, k, n],
                        m[5, b, f, k, n])
            for i in range(4):
                for n in range(batch):
                    o[i, 0, n], o[i, 1, n], o[i, 2, n], o[i, 3, n] = _a_t(
                        t[i, 0, n], t[i, 1, n], t[i, 2, n], t[i, 3, n], t[i, 4, n], t[i, 5, n])
            for i in range(min(four, out_h - r)):
                for j in range(min(four, out_w - s)):
                    for n in range(batch):
                        y[f, r + i, s + j, n] = max(o[i, j, n] + bias[f], floor)


@jit
def output_tiles_adjoint(dy, y, relu, first_tile, dm, dbias, start, stop):
    """dm[:, :, f, k] = A_T^T @ g @ A_T for the 4x4 tile g of dy at tile first_tile + k in row-major order,
    zero past dy's edge and, when relu, where y <= 0; dbias[f] = the sum of those tiles' g. For f in
    range(start, stop)."""
    out_h, out_w = dy.shape[1:3]
    tiles_w = (out_w + 3) // 4
    count, batch = dm.shape[3:]
    four = dm.shape[0] - 2
    for f in range(start, stop):
        g = np.empty((4, 4, batch), dm.dtype)
        t = np.empty((6, 4, batch), dm.dtype)
        total = np.zeros(batch)  # one sum per n: a single running sum would keep the loop from vectorising
        for k in range(count):
            top, left = 4 * ((first_tile + k) // tiles_w), 4 * ((first_tile + k) % tiles_w)
            for i in range(four):
                for j in range(four):
                    r, s = top + i, left + j
                    if r >= out_h or s >= out_w:
                        for n in range(batch):
                            g[i, j, n] = 0
                    elif relu:
                        for n in range(batch):
                            g[i, j, n] = dy[f, r, s, n] if y[f, r, s, n] > 0 else 0
                    else:
                        for n in range(batch):
                            g[i, j, n] = dy[f, r, s, n]
                    for n in range(batch):
                        total[n] += g[i, j, n]
            for j in range(4):
                for n in range(batch):
                    t[0, j, n], t[1, j, n], t[2, j, n], t[3, j, n], t[4, j, n], t[5, j, n] = _a(
                        g[0, j, n], g[1, j, n], g[2, j, n], g[3, j, n])
            for a in range(6):
                for n in range(batch):
                    dm[a, 0, f, k, n], dm[a, 1, f, k, n], dm[a, 2, f, k, n], dm[a, 3, f, k, n], dm[a, 4, f, k, n], \
                        dm[a, 5, f, k, n] = _a(t[a, 0, n], t[a, 1, n], t[a, 2, n], t[a, 3, n])
        dbias[f] = total.sum()
