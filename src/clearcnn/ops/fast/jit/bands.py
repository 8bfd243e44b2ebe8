"""im2col for one band of output rows, and its adjoint, compiled with Numba: one call each instead of one NumPy
call per kernel tap, which for one-row bands would cost more than the copying."""
from . import jit


@jit
def gather(xp, y0, y1, kh, kw, dh, dw, cols):
    """cols[i, j, c, y - y0, x] = xp[c, y + i*dh, x + j*dw] for the band's rows y0 <= y < y1 (x < cols' width);
    the batch axis is innermost and copied whole."""
    channels, width, batch = xp.shape[0], cols.shape[4], xp.shape[3]
    for i in range(kh):
        for j in range(kw):
            for c in range(channels):
                for y in range(y0, y1):
                    for x in range(width):
                        for n in range(batch):
                            cols[i, j, c, y - y0, x, n] = xp[c, y + i * dh, x + j * dw, n]


@jit
def scatter_add(cols, y0, first, dh, dw, dx_rows):
    """The adjoint of gather: dx_rows[c, y + i*dh - first, x + j*dw] += cols[i, j, c, y - y0, x] for the band
    that starts at output row y0, into rows counted from `first`."""
    kh, kw, channels, rows, width, batch = cols.shape
    for c in range(channels):
        for i in range(kh):
            for y in range(rows):
                for j in range(kw):
                    for x in range(width):
                        for n in range(batch):
                            dx_rows[c, y0 + y + i * dh - first, x + j * dw, n] += cols[i, j, c, y, x, n]
