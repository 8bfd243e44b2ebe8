"""Max pooling compiled with Numba: one pass forward, recording which tap won each window, and one pass back
that sends each gradient straight there (NumPy needs a pass per tap forward and four per tap backward)."""
import numpy as np

from . import jit

# `rows` and `cols` are Geometry.tap_offsets(): tap t of the window at output (oy, ox) reads input cell
# (oy * sh + rows[t], ox * sw + cols[t]) of the padded input, with the taps in row-major order.
#
# The arrays are C-contiguous and read through their flat views in runs: a stride-1 window's tap covers a whole
# output row of images in one run, otherwise one image's cell. Indices are np.uintp: one Numba cannot prove
# non-negative gets a wrap-around test on every access, and the run's loop would not vectorise.


@jit
def max_pool(xp, rows, cols, strides, y, winner, start, stop):
    """y[c, oy, ox] = the window's maximum over xp (padded with -inf); winner = the number of the first tap
    holding it. For c in range(start, stop)."""
    sh, sw = strides
    _, out_h, out_w, batch = y.shape
    _, height, width, _ = xp.shape
    source, best, won = xp.reshape(xp.size), y.reshape(y.size), winner.reshape(winner.size)
    run = out_w * batch if sw == 1 else batch
    for c in range(start, stop):
        for oy in range(out_h):
            for ox in range(0, out_w, run // batch):
                to = ((c * out_h + oy) * out_w + ox) * batch
                at = ((c * height + oy * sh + rows[0]) * width + ox * sw + cols[0]) * batch
                for t in range(run):
                    best[np.uintp(to + t)] = source[np.uintp(at + t)]
                    won[np.uintp(to + t)] = 0
                for tap in range(1, rows.size):
                    at = ((c * height + oy * sh + rows[tap]) * width + ox * sw + cols[tap]) * batch
                    for t in range(run):
                        value, old = source[np.uintp(at + t)], best[np.uintp(to + t)]
                        better = value > old  # strictly: ties stay with the first tap
                        best[np.uintp(to + t)] = value if better else old
                        won[np.uintp(to + t)] = np.int32(tap) if better else won[np.uintp(to + t)]


@jit
def max_pool_adjoint(dy, winner, rows, cols, strides, dxp, start, stop):
    """dxp[c, r, s] = the sum of the gradients of the windows whose winning tap read cell (r, s), added tap by
    tap. Gathered per row of cells rather than scattered per window, so that the loop has no conflicting writes
    and vectorises. For c in range(start, stop)."""
    sh, sw = strides
    _, out_h, out_w, batch = dy.shape
    _, height, width, _ = dxp.shape
    gradient, won, total = dy.reshape(dy.size), winner.reshape(winner.size), dxp.reshape(dxp.size)
    for c in range(start, stop):
        for r in range(height):
            row = (c * height + r) * width * batch
            for t in range(width * batch):
                total[np.uintp(row + t)] = 0
            for tap in range(rows.size):
                oy, oy_left = divmod(r - rows[tap], sh)
                if oy_left != 0 or not 0 <= oy < out_h:
                    continue
                run = out_w * batch if sw == 1 else batch  # cells cols[tap] + ox * sw of this row
                for ox in range(0, out_w, run // batch):
                    to = row + (ox * sw + cols[tap]) * batch
                    at = ((c * out_h + oy) * out_w + ox) * batch
                    for t in range(run):
                        tap_won = won[np.uintp(at + t)] == tap
                        total[np.uintp(to + t)] += gradient[np.uintp(at + t)] if tap_won else np.float32(0)
