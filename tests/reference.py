"""Naive oracles used only by the tests, written independently of clearcnn's engine.

Everything here works on the public layout (batch, H, W, C) and loops over output pixels in Python;
padding amounts are recomputed from Keras's rule as stated in SPEC section 2, not taken from clearcnn.
The conv and pooling grids shared by the gradient, naive and PyTorch tests live at the bottom.
"""
import numpy as np

ACTIVATION_NAMES = ("linear", "relu", "sigmoid", "tanh", "softmax", "leaky_relu", "elu")


# --- geometry, from the spec's formulas ----------------------------------------------------------

def pads_1d(n, k, s, d, padding):
    """(before, after) for one axis. `padding` is "valid", "same", an int or a (before, after) pair."""
    k_eff = (k - 1) * d + 1
    if padding == "valid":
        return 0, 0
    if padding == "same":
        out = -(-n // s)  # ceil(n / s)
        total = max(0, (out - 1) * s + k_eff - n)
        return total // 2, total - total // 2  # the odd pixel goes after (bottom / right)
    if isinstance(padding, int):
        return padding, padding
    return tuple(padding)


def pads_2d(hw, kernel, strides, dilation, padding):
    """((top, bottom), (left, right)) for the Keras-style padding argument of a layer."""
    if isinstance(padding, str):
        per_axis = (padding, padding)
    elif isinstance(padding, int):
        per_axis = (padding, padding)
    elif all(isinstance(p, int) for p in padding):
        per_axis = tuple(padding)  # (height, width) symmetric amounts
    else:
        per_axis = tuple(tuple(p) for p in padding)
    return tuple(pads_1d(n, k, s, d, p) for n, k, s, d, p in zip(hw, kernel, strides, dilation, per_axis))


def out_len(n, k, s, d, before, after):
    return (n + before + after - ((k - 1) * d + 1)) // s + 1


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


# --- activations (plain formulas) ----------------------------------------------------------------

def activation(name, z):
    """Keras's activations on the last axis (softmax) or element-wise."""
    if name == "linear":
        return z
    if name == "relu":
        return np.where(z > 0, z, 0.0)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "softmax":
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    if name == "leaky_relu":
        return np.where(z > 0, z, 0.2 * z)
    if name == "elu":
        return np.where(z > 0, z, np.exp(np.minimum(z, 0)) - 1.0)
    raise KeyError(name)


# --- convolution ---------------------------------------------------------------------------------

def pad_nhwc(x, pads, value=0.0):
    (t, b), (l, r) = pads
    n, h, w, c = x.shape
    xp = np.full((n, h + t + b, w + l + r, c), value, dtype=np.float64)
    xp[:, t:t + h, l:l + w, :] = x
    return xp


def _window_index(oy, ox, kernel, strides, dilation):
    """Row and column indices (into the padded image) read by output pixel (oy, ox)."""
    (kh, kw), (sh, sw), (dh, dw) = kernel, strides, dilation
    rows = [oy * sh + i * dh for i in range(kh)]
    cols = [ox * sw + j * dw for j in range(kw)]
    return rows, cols


def _conv_inputs(x, kernel, strides, padding, dilation):
    """float64 x and kernel, the (strides, dilation) pairs, the pads and the padded x."""
    x, kernel = np.asarray(x, np.float64), np.asarray(kernel, np.float64)
    strides, dilation = pair(strides), pair(dilation)
    pads = pads_2d(x.shape[1:3], kernel.shape[:2], strides, dilation, padding)
    return x, kernel, strides, dilation, pads, pad_nhwc(x, pads)


def conv2d(x, kernel, bias, strides, padding, dilation):
    """Cross-correlation by a loop over every output pixel. x (N, H, W, C), kernel (kh, kw, C, F)."""
    x, kernel, strides, dilation, pads, xp = _conv_inputs(x, kernel, strides, padding, dilation)
    kh, kw, c, f = kernel.shape
    oh = out_len(x.shape[1], kh, strides[0], dilation[0], *pads[0])
    ow = out_len(x.shape[2], kw, strides[1], dilation[1], *pads[1])
    y = np.zeros((x.shape[0], oh, ow, f))
    for n in range(x.shape[0]):
        for oy in range(oh):
            for ox in range(ow):
                rows, cols = _window_index(oy, ox, (kh, kw), strides, dilation)
                window = xp[n][np.ix_(rows, cols)]  # (kh, kw, C)
                for k in range(f):
                    y[n, oy, ox, k] = np.sum(window * kernel[:, :, :, k])
    if bias is not None:
        y += np.asarray(bias, np.float64)
    return y


def conv2d_grads(x, kernel, dy, strides, padding, dilation):
    """(dx, dkernel, dbias) of sum(conv2d(x) * dy), accumulated pixel by pixel."""
    x, kernel, strides, dilation, pads, xp = _conv_inputs(x, kernel, strides, padding, dilation)
    kh, kw, c, f = kernel.shape
    dxp = np.zeros_like(xp)
    dkernel = np.zeros_like(kernel)
    _, oh, ow, _ = dy.shape
    for n in range(x.shape[0]):
        for oy in range(oh):
            for ox in range(ow):
                rows, cols = _window_index(oy, ox, (kh, kw), strides, dilation)
                g = dy[n, oy, ox]  # (F,)
                for a, r in enumerate(rows):
                    for b, q in enumerate(cols):
                        dxp[n, r, q] += kernel[a, b] @ g
                        dkernel[a, b] += np.outer(xp[n, r, q], g)
    (t, _), (l, _) = pads
    dx = dxp[:, t:t + x.shape[1], l:l + x.shape[2]]
    return dx, dkernel, dy.sum(axis=(0, 1, 2))


# --- pooling -------------------------------------------------------------------------------------

def _pool_windows(x, pool_size, strides, padding):
    """Yield (n, oy, ox, cells) where cells lists the real (unpadded) (row, col) pixels of the window."""
    pool_size = pair(pool_size)
    strides = pool_size if strides is None else pair(strides)
    pads = pads_2d(x.shape[1:3], pool_size, strides, (1, 1), padding)
    (t, b), (l, r) = pads
    h, w = x.shape[1:3]
    oh = out_len(h, pool_size[0], strides[0], 1, t, b)
    ow = out_len(w, pool_size[1], strides[1], 1, l, r)
    for n in range(x.shape[0]):
        for oy in range(oh):
            for ox in range(ow):
                rows, cols = _window_index(oy, ox, pool_size, strides, (1, 1))
                cells = [(p - t, q - l) for p in rows for q in cols  # row-major order
                         if 0 <= p - t < h and 0 <= q - l < w]
                yield n, oy, ox, cells
    return oh, ow


def _pool_out_shape(x, pool_size, strides, padding):
    pool_size = pair(pool_size)
    strides = pool_size if strides is None else pair(strides)
    (t, b), (l, r) = pads_2d(x.shape[1:3], pool_size, strides, (1, 1), padding)
    return (x.shape[0], out_len(x.shape[1], pool_size[0], strides[0], 1, t, b),
            out_len(x.shape[2], pool_size[1], strides[1], 1, l, r), x.shape[3])


def max_pool2d(x, pool_size, strides=None, padding="valid"):
    x = np.asarray(x, np.float64)
    y = np.zeros(_pool_out_shape(x, pool_size, strides, padding))
    for n, oy, ox, cells in _pool_windows(x, pool_size, strides, padding):
        for c in range(x.shape[3]):
            y[n, oy, ox, c] = max(x[n, p, q, c] for p, q in cells)
    return y


def max_pool2d_grad(x, dy, pool_size, strides=None, padding="valid"):
    """Each window's gradient goes to the first maximum of its real cells in row-major order."""
    x = np.asarray(x, np.float64)
    dx = np.zeros_like(x)
    for n, oy, ox, cells in _pool_windows(x, pool_size, strides, padding):
        for c in range(x.shape[3]):
            values = [x[n, p, q, c] for p, q in cells]
            p, q = cells[int(np.argmax(values))]  # argmax returns the first of tied maxima
            dx[n, p, q, c] += dy[n, oy, ox, c]
    return dx


def avg_pool2d(x, pool_size, strides=None, padding="valid"):
    """Mean over the real cells of each window (padded cells are not counted)."""
    x = np.asarray(x, np.float64)
    y = np.zeros(_pool_out_shape(x, pool_size, strides, padding))
    for n, oy, ox, cells in _pool_windows(x, pool_size, strides, padding):
        for c in range(x.shape[3]):
            y[n, oy, ox, c] = sum(x[n, p, q, c] for p, q in cells) / len(cells)
    return y


def avg_pool2d_grad(x, dy, pool_size, strides=None, padding="valid"):
    x = np.asarray(x, np.float64)
    dx = np.zeros_like(x)
    for n, oy, ox, cells in _pool_windows(x, pool_size, strides, padding):
        for p, q in cells:
            dx[n, p, q, :] += dy[n, oy, ox, :] / len(cells)
    return dx


# --- shared grids --------------------------------------------------------------------------------

def _conv(h, w, cin, cout, kernel, strides=1, padding="valid", dilation=1, use_bias=True):
    return dict(hw=(h, w), cin=cin, cout=cout, kernel=kernel, strides=strides, padding=padding,
                dilation=dilation, use_bias=use_bias)


_CONV = [
    _conv(6, 6, 3, 4, 1),
    _conv(5, 7, 2, 3, 2, padding="same"),
    _conv(6, 6, 1, 2, 3),                                        # the article's geometry
    _conv(7, 7, 3, 2, 3, strides=2),
    _conv(6, 6, 2, 3, 3, strides=2, padding="same"),             # odd "same" padding goes bottom/right
    _conv(7, 7, 2, 2, 4, padding="same", use_bias=False),        # even kernel: pads (1, 2)
    _conv(8, 8, 2, 3, 5),
    _conv(9, 9, 2, 2, 5, strides=3, padding="same"),
    _conv(5, 6, 3, 2, (1, 3)),
    _conv(6, 5, 2, 3, (3, 1), strides=(2, 1), padding="same"),
    _conv(6, 6, 2, 2, (2, 5), strides=(1, 2), padding=((1, 2), (0, 3))),
    _conv(9, 6, 2, 3, (5, 2), strides=(3, 1)),
    _conv(9, 9, 2, 2, 3, dilation=2),
    _conv(9, 8, 2, 2, 3, dilation=3, padding="same", use_bias=False),
    _conv(6, 7, 3, 2, (2, 3), dilation=(1, 2), padding=((2, 0), (1, 1))),
    _conv(8, 7, 2, 3, 2, strides=2, dilation=(3, 1)),
    _conv(5, 5, 2, 2, 3, padding=1),
    _conv(5, 6, 2, 2, 3, padding=(1, 2)),
    _conv(7, 6, 3, 2, 3, strides=2, padding=((0, 2), (1, 0))),
    _conv(8, 9, 2, 2, 4, strides=(2, 3), padding="same"),
    _conv(5, 5, 10, 12, 3, padding="same"),                      # more than 8 channels in and out
    _conv(6, 7, 9, 9, (2, 3), strides=2),
    _conv(6, 6, 1, 3, 5, padding="same"),
    _conv(7, 7, 2, 2, 1, strides=3),
    _conv(6, 5, 11, 2, 1, strides=2, padding="same", use_bias=False),
    _conv(7, 8, 2, 3, (4, 2), strides=(1, 3), dilation=(2, 1), padding=((1, 0), (2, 2))),
    _conv(6, 6, 2, 2, 5, dilation=2, padding=((3, 3), (1, 4))),
    _conv(8, 8, 2, 2, 3, strides=3),                             # last rows/columns uncovered
    _conv(7, 7, 2, 3, 2, strides=2, padding="same"),
    _conv(5, 4, 3, 2, (5, 4)),                                   # kernel as large as the image: 1x1 output
    _conv(4, 4, 16, 10, 1),
    _conv(7, 9, 2, 2, 3, strides=(2, 1), dilation=(1, 3), padding="same"),
    _conv(5, 5, 9, 10, (3, 2), strides=(3, 2), padding=((2, 1), (0, 1)), use_bias=False),
    _conv(9, 7, 3, 2, 2, strides=(3, 2), dilation=3, padding="same"),
]
# Every activation appears several times; the batch is 2 or 3.
CONV_GRID = [dict(cfg, activation=ACTIVATION_NAMES[i % len(ACTIVATION_NAMES)], batch=2 + i % 2)
             for i, cfg in enumerate(_CONV)]


def conv_id(cfg):
    h, w = cfg["hw"]
    pad = cfg["padding"] if isinstance(cfg["padding"], str) else "p" + str(cfg["padding"]).replace(" ", "")
    return (f"{cfg['batch']}x{h}x{w}x{cfg['cin']}-f{cfg['cout']}-k{cfg['kernel']}-s{cfg['strides']}-{pad}"
            f"-d{cfg['dilation']}-{cfg['activation']}{'' if cfg['use_bias'] else '-nobias'}").replace(" ", "")


def _pool(h, w, c, pool_size, strides=None, padding="valid", batch=2):
    return dict(hw=(h, w), channels=c, pool_size=pool_size, strides=strides, padding=padding, batch=batch)


POOL_GRID = [
    _pool(4, 4, 1, 2),
    _pool(6, 6, 2, 2, strides=1),
    _pool(7, 7, 3, 3, strides=2),
    _pool(5, 5, 2, 2, padding="same"),                           # odd size: last window is half padding
    _pool(7, 6, 2, 3, strides=2, padding="same"),
    _pool(6, 8, 2, (2, 3)),
    _pool(7, 5, 3, (3, 1), strides=(2, 1), padding="same"),
    _pool(8, 7, 2, 4, strides=3),
    _pool(5, 6, 10, 2, strides=(1, 2)),                          # more than 8 channels
    _pool(6, 6, 2, 1, strides=2),
    _pool(6, 7, 2, 3, strides=(3, 2), padding=((1, 2), (0, 1))),
    _pool(5, 5, 2, 2, strides=1, padding=1),
    _pool(9, 9, 2, 3, strides=1, padding="same", batch=3),
    _pool(7, 9, 2, (2, 4), strides=(2, 3), padding="same"),
    _pool(6, 6, 9, 3, strides=3, padding=(1, 2)),
]


def pool_id(cfg):
    h, w = cfg["hw"]
    pad = cfg["padding"] if isinstance(cfg["padding"], str) else "p" + str(cfg["padding"]).replace(" ", "")
    return f"{cfg['batch']}x{h}x{w}x{cfg['channels']}-k{cfg['pool_size']}-s{cfg['strides']}-{pad}".replace(" ", "")


def distinct_values(shape, rng, gap=0.05):
    """Random values whose pairwise gaps are all at least `gap`: no ties for max pooling."""
    size = int(np.prod(shape))
    return (rng.permutation(size) * gap - size * gap / 2 + rng.uniform(0, gap / 10, size)).reshape(shape)
