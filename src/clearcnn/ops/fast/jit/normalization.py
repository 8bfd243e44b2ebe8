"""Batch normalisation compiled with Numba, on (C, M) rows (the channel axis outermost, so each channel's M
numbers lie in one contiguous row): the statistics in two passes over a row, the normalisation in one, and the
backward pass's two sums in one, where NumPy makes a pass per operation and allocates a temporary for each.

Sums accumulate in float64 and may be reassociated (fastmath "reassoc") so that they vectorise; nothing else of
fastmath is allowed, so NaN and inf still propagate as they do in NumPy."""
import numba

reducing = numba.njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})


@reducing
def moments(x, mean, variance, start, stop):
    """mean[c] and the biased variance[c] of row x[c]: the mean first, then the mean squared deviation from it
    (two passes, as the reference: no cancellation). For c in range(start, stop)."""
    count = x.shape[1]
    for c in range(start, stop):
        row = x[c]
        total = 0.0
        for i in range(count):
            total += row[i]
        m = total / count
        squares = 0.0
        for i in range(count):
            d = row[i] - m
            squares += d * d
        mean[c] = m
        variance[c] = squares / count


@reducing
def scale_shift(x, scale, shift, y, start, stop):
    """y[c] = x[c] * scale[c] + shift[c]. For c in range(start, stop)."""
    for c in range(start, stop):
        a, b = scale[c], shift[c]
        row, out = x[c], y[c]
        for i in range(x.shape[1]):
            out[i] = row[i] * a + b


@reducing
def gradient_sums(dy, x, mean, inv_std, dgamma, dbeta, start, stop):
    """dbeta[c] = sum(dy[c]) and dgamma[c] = sum(dy[c] * (x[c] - mean[c]) * inv_std[c]). For c in range(start, stop)."""
    for c in range(start, stop):
        m = mean[c]
        total, products = 0.0, 0.0
        for i in range(x.shape[1]):
            g = dy[c, i]
            total += g
            products += g * (x[c, i] - m)
        dbeta[c] = total
        dgamma[c] = products * inv_std[c]


@reducing
def batch_input_gradient(dy, x, mean, inv_std, gain, dgamma, dbeta, dx, start, stop):
    """Training mode: dx = gain * (dy - dbeta / M - x_hat * dgamma / M), x_hat = (x - mean) * inv_std, gain =
    gamma * inv_std. For c in range(start, stop)."""
    count = x.shape[1]
    for c in range(start, stop):
        m, s, k = mean[c], inv_std[c], gain[c]
        mean_dy, mean_product = dbeta[c] / count, dgamma[c] / count
        for i in range(count):
            dx[c, i] = k * (dy[c, i] - mean_dy - (x[c, i] - m) * s * mean_product)
