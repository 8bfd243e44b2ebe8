"""Max pooling compiled with Numba: one pass forward, recording which tap won each window, and one pass back
that sends each gradient straight there (NumPy needs a pass per tap forward and four per tap backward)."""
import numpy as np

from . import jit

# `rows` and `cols` are Geometry.tap_offsets(): tap t of the window at output (oy, ox) reads input cell
# (oy * sh + rows[t], ox * sw + cols[t]) of the padded input, with the taps in row-major order.


@jit
def max_pool(xp, rows, cols, strides, y, winner, start, stop):
    """y[c, oy, ox] = the window's maximum over xp (padded with -inf); winner = the number of the first tap
    holding it. For c in range(start, stop)."""
    sh, sw = strides
    out_h, out_w, batch = y.shape[1:]
    for c in range(start, stop):
        for oy in range(out_h):
            for ox in range(out_w):
                r, s = oy * sh + rows[0], ox * sw + cols[0]
                for n in range(batch):
                    y[c, oy, ox, n] = xp[c, r, s, n]
                    winner[c, oy, ox, n] = 0
                for tap in range(1, rows.size):
                    r, s = oy * sh + rows[tap], ox * sw + cols[tap]
                    for n in range(batch):
                        value = xp[c, r, s, n]
                        if value > y[c, oy, ox, n]:  # strictly: ties stay with the first tap
                            y[c, oy, ox, n] = value
                            winner[c, oy, ox, n] = tap


@jit
def max_pool_adjoint(dy, winner, rows, cols, strides, dxp, start, stop):
    """dxp[c, r, s] = the sum of the gradients of the windows whose winning tap read cell (r, s). Gathered per
    cell rather than scattered per window, so that the loop over n has no conflicting writes and vectorises.
    For c in range(start, stop)."""
    sh, sw = strides
    out_h, out_w, batch = dy.shape[1:]
    height, width = dxp.shape[1:3]
    for c in range(start, stop):
        total = np.empty(batch, dxp.dtype)
        for r in range(height):
            for s in range(width):
                total[:] = 0
                for tap in range(rows.size):
                    oy, oy_left = divmod(r - rows[tap], sh)
                    ox, ox_left = divmod(s - cols[tap], sw)
                    if oy_left == 0 and ox_left == 0 and 0 <= oy < out_h and 0 <= ox < out_w:
                        for n in range(batch):
                            total[n] += dy[c, oy, ox, n] if winner[c, oy, ox, n] == tap else 0
                for n in range(batch):
                    dxp[c, r, s, n] = total[n]
