"""Kernels compiled with Numba, for the steps NumPy measurably cannot make fast (backend.py chooses).

Winograd tile transforms. In NumPy (winograd.NumPyKernels, the reference) each is a pair of tensordots
over arrays several times the image's size, plus the gathering or scattering of overlapping tiles, and
together they cost more than the 4x fewer multiplications save. Measured on CIFAR-CNN's 32-channel layer at
batch 64, one thread: input transform 33.6 ms in NumPy and 5.1 ms here, output 9.8 and 1.4 ms, their
adjoints 32.2 and 2.2 ms, 26.7 and 4.7 ms. Here each is one pass over its data: per tile, 36 numbers in and
36 or 16 out. The batch axis is innermost, so the compiler vectorises the loops over n. The four 1-D
transforms below are the rows of winograd.B_T and winograd.A_T and of their transposes, written out; the
tests hold every kernel to the NumPy path.
"""
import numba
import numpy as np

# nogil: ops/parallel.py runs parts of one call (ranges of channels) on several threads at once.
jit = numba.njit(cache=True, nogil=True)


# The transforms' integer coefficients as float32, so that float32 data stays float32 (a Python 4 would
# promote it to float64, half the vector width); float64 data stays float64.
_2, _4, _5, _8 = np.float32(2), np.float32(4), np.float32(5), np.float32(8)


@numba.njit(inline="always")
def _b_t(d0, d1, d2, d3, d4, d5):  # B_T @ d
    return (_4 * d0 - _5 * d2 + d4, d3 + d4 - _4 * (d1 + d2), _4 * (d1 - d2) - d3 + d4,
            _2 * (d3 - d1) - d2 + d4, _2 * (d1 - d3) - d2 + d4, _4 * d1 - _5 * d3 + d5)


@numba.njit(inline="always")
def _b(e0, e1, e2, e3, e4, e5):  # B_T^T @ e
    return (_4 * e0, _4 * (e2 - e1 + e5) + _2 * (e4 - e3), -_5 * e0 - _4 * (e1 + e2) - e3 - e4,
            e1 - e2 + _2 * (e3 - e4) - _5 * e5, e0 + e1 + e2 + e3 + e4, e5)


@numba.njit(inline="always")
def _a_t(m0, m1, m2, m3, m4, m5):  # A_T @ m
    return (m0 + m1 + m2 + m3 + m4, m1 - m2 + _2 * (m3 - m4), m1 + m2 + _4 * (m3 + m4),
            m1 - m2 + _8 * (m3 - m4) + m5)


@numba.njit(inline="always")
def _a(y0, y1, y2, y3):  # A_T^T @ y
    return (y0, y0 + y1 + y2 + y3, y0 - y1 + y2 - y3, y0 + _2 * y1 + _4 * y2 + _8 * y3,
            y0 - _2 * y1 + _4 * y2 - _8 * y3, y3)


# Each kernel works one tile at a time, in two 1-D passes like winograd.sandwich: the first fills a small
# scratch t (tile x tile x batch; it stays in the L1 cache), the second reads it. Loops over n are innermost.

@jit
def input_tiles(x, top, left, v, start, stop):
    """v[:, :, c, ty, tx] = B_T @ d @ B_T^T for each 6x6 tile d = xp[c, 4ty:4ty+6, 4tx:4tx+6] (over n), where
    xp is x with `top` rows and `left` columns of zeros before it and as many as the tiles need after it.
    For c in range(start, stop)."""
    height, width = x.shape[1:3]
    tiles_h, tiles_w, batch = v.shape[3:]
    for c in range(start, stop):
        d = np.empty((6, 6, batch), v.dtype)
        t = np.empty((6, 6, batch), v.dtype)
        for ty in range(tiles_h):
            for tx in range(tiles_w):
                r, s = 4 * ty - top, 4 * tx - left
                for i in range(6):
                    for j in range(6):
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
                        (v[a, 0, c, ty, tx, n], v[a, 1, c, ty, tx, n], v[a, 2, c, ty, tx, n], v[a, 3, c, ty, tx, n],
                         v[a, 4, c, ty, tx, n], v[a, 5, c, ty, tx, n]) = _b_t(
                            t[a, 0, n], t[a, 1, n], t[a, 2, n], t[a, 3, n], t[a, 4, n], t[a, 5, n])


@jit
def input_tiles_adjoint(dv, top, left, dx, start, stop):
    """dx = the sum over tiles of B_T^T @ dv @ B_T, each added onto the pixels of x its tile read (those of
    the padding are dropped). For c in range(start, stop)."""
    height, width = dx.shape[1:3]
    tiles_h, tiles_w, batch = dv.shape[3:]
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
                for i in range(6):
                    for j in range(6):
                        if 0 <= r + i < height and 0 <= s + j < width:
                            for n in range(batch):
                                dx[c, r + i, s + j, n] += d[i, j, n]


@jit
def output_tiles(m, bias, relu, y, start, stop):
    """y[f, 4ty:4ty+4, 4tx:4tx+4] = A_T @ m[:, :, f, ty, tx] @ A_T^T + bias[f], then max(., 0) when relu;
    outputs past y's edge are dropped. For f in range(start, stop)."""
    out_h, out_w = y.shape[1:3]
    tiles_h, tiles_w, batch = m.shape[3:]
    floor = np.float32(0) if relu else np.float32(-np.inf)
    for f in range(start, stop):
        t = np.empty((4, 6, batch), m.dtype)
        o = np.empty((4, 4, batch), m.dtype)
        for ty in range(tiles_h):
            for tx in range(tiles_w):
                r, s = 4 * ty, 4 * tx
                for b in range(6):
                    for n in range(batch):
                        t[0, b, n], t[1, b, n], t[2, b, n], t[3, b, n] = _a_t(
                            m[0, b, f, ty, tx, n], m[1, b, f, ty, tx, n], m[2, b, f, ty, tx, n],
                            m[3, b, f, ty, tx, n], m[4, b, f, ty, tx, n], m[5, b, f, ty, tx, n])
                for i in range(4):
                    for n in range(batch):
                        o[i, 0, n], o[i, 1, n], o[i, 2, n], o[i, 3, n] = _a_t(
                            t[i, 0, n], t[i, 1, n], t[i, 2, n], t[i, 3, n], t[i, 4, n], t[i, 5, n])
                for i in range(min(4, out_h - r)):
                    for j in range(min(4, out_w - s)):
                        for n in range(batch):
                            y[f, r + i, s + j, n] = max(o[i, j, n] + bias[f], floor)


@jit
def output_tiles_adjoint(dy, y, relu, dm, dbias, start, stop):
    """dm[:, :, f, ty, tx] = A_T^T @ g @ A_T for the 4x4 tile g of dy at (4ty, 4tx), zero past dy's edge
    and, when relu, where y <= 0; dbias[f] = the sum of g. For f in range(start, stop)."""
    out_h, out_w = dy.shape[1:3]
    tiles_h, tiles_w, batch = dm.shape[3:]
    for f in range(start, stop):
        g = np.empty((4, 4, batch), dm.dtype)
        t = np.empty((6, 4, batch), dm.dtype)
        total = np.zeros(batch)  # one sum per n: a single running sum would keep the loop from vectorising
        for ty in range(tiles_h):
            for tx in range(tiles_w):
                for i in range(4):
                    for j in range(4):
                        r, s = 4 * ty + i, 4 * tx + j
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
                        (dm[a, 0, f, ty, tx, n], dm[a, 1, f, ty, tx, n], dm[a, 2, f, ty, tx, n],
                         dm[a, 3, f, ty, tx, n], dm[a, 4, f, ty, tx, n], dm[a, 5, f, ty, tx, n]) = _a(
                            t[a, 0, n], t[a, 1, n], t[a, 2, n], t[a, 3, n])
        dbias[f] = total.sum()


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
    """dxp[c, r, s] = the sum of the gradients of the windows whose winning tap read cell (r, s). Gathered per
    cell rather than scattered per window, so that the loop over n has no conflicting writes and vectorises.
    For c in range(start, stop)."""
    (kh, kw), (sh, sw), (dh, dw) = kernel, strides, dilation
    out_h, out_w, batch = dy.shape[1:]
    height, width = dxp.shape[1:3]
    for c in range(start, stop):
        total = np.empty(batch, dxp.dtype)
        for r in range(height):
            for s in range(width):
                total[:] = 0
                for tap in range(kh * kw):
                    oy, oy_left = divmod(r - (tap // kw) * dh, sh)
                    ox, ox_left = divmod(s - (tap % kw) * dw, sw)
                    if oy_left == 0 and ox_left == 0 and 0 <= oy < out_h and 0 <= ox < out_w:
                        for n in range(batch):
                            total[n] += dy[c, oy, ox, n] if winner[c, oy, ox, n] == tap else 0
                for n in range(batch):
                    dxp[c, r, s, n] = total[n]


# --- optimizer steps ----------------------------------------------------------------------------------
# NumPy's SGD with momentum makes four passes over every weight and gradient, one with a temporary array;
# here it is one (measured on SEED-CNN's 929,280-weight dense kernel: 1.15 ms in NumPy, 0.49 ms here).

@jit
def sgd_momentum(w, g, velocity, learning_rate, momentum, nesterov, start, stop):
    """velocity = momentum * velocity - learning_rate * g; w += velocity, or with nesterov
    w += momentum * velocity - learning_rate * g. On the flat arrays' items start to stop."""
    # Slices, then indices from 0: an index that might be negative gets a wrap-around test on every access,
    # and the loop does not vectorise (measured: 1.25 ms against 0.5 ms). Two loops, not a test per item.
    w, g, velocity = w[start:stop], g[start:stop], velocity[start:stop]
    if nesterov:
        for i in range(w.size):
            step = learning_rate * g[i]
            velocity[i] = momentum * velocity[i] - step
            w[i] += momentum * velocity[i] - step
    else:
        for i in range(w.size):
            velocity[i] = momentum * velocity[i] - learning_rate * g[i]
            w[i] += velocity[i]
