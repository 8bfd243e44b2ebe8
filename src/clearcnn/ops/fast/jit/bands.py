"""im2col for one band of output rows, and its adjoint, compiled with Numba: one call each instead of one NumPy
call per kernel tap, which for one-row bands would cost more than the copying. Both also serve whole images
(one band of every row) in im2col, where NumPy's tap-by-tap copies and sums have inner runs of only a row of a
few images.

Both work on the arrays' flat views, in runs, and index them with np.uintp: an index Numba cannot prove
non-negative gets a wrap-around test on every access, and the run's loop would not vectorise."""
import numpy as np

from . import jit


@jit
def gather(xp, y0, y1, kh, kw, dh, dw, cols, c0, c1):
    """cols[i, j, c, y - y0, x] = xp[c, y + i*dh, x + j*dw] for the band's rows y0 <= y < y1 (x < cols' width)
    and channels c0 <= c < c1; the batch axis is innermost and copied whole. Both arrays C-contiguous: the copy
    goes by runs of whole rows of images where the taps are next to each other (dw 1), else by images."""
    _, height, in_width, batch = xp.shape
    rows, width = cols.shape[3], cols.shape[4]
    source, target = xp.reshape(xp.size), cols.reshape(cols.size)
    run = width * batch if dw == 1 else batch
    for i in range(kh):
        for j in range(kw):
            for c in range(c0, c1):
                for y in range(y0, y1):
                    for x in range(0, width, run // batch):
                        to = (((i * kw + j) * cols.shape[2] + c) * rows + y - y0) * width * batch + x * batch
                        at = ((c * height + y + i * dh) * in_width + x + j * dw) * batch
                        for t in range(run):
                            target[np.uintp(to + t)] = source[np.uintp(at + t)]


@jit
def scatter_add(cols, y0, first, dh, dw, dx_rows, c0, c1):
    """The adjoint of gather for channels c0 to c1: dx_rows[c, y + i*dh - first, x + j*dw] += cols[i, j, c,
    y - y0, x] for the band that starts at output row y0, into rows counted from `first`; the same runs."""
    kh, kw, channels, rows, width, batch = cols.shape
    _, height, in_width, _ = dx_rows.shape
    source, target = cols.reshape(cols.size), dx_rows.reshape(dx_rows.size)
    run = width * batch if dw == 1 else batch
    for c in range(c0, c1):
        for i in range(kh):
            for y in range(rows):
                for j in range(kw):
                    for x in range(0, width, run // batch):
                        at = (((i * kw + j) * channels + c) * rows + y) * width * batch + x * batch
                        to = ((c * height + y0 + y + i * dh - first) * in_width + x + j * dw) * batch
                        for t in range(run):
                            target[np.uintp(to + t)] += source[np.uintp(at + t)]
