"""The one sliding-window mechanism, shared by convolution and pooling, forward and backward.

Internal layout is (C, H, W, N): the batch is innermost, so every window slice below is a run of
N contiguous numbers and NumPy's copy, add and max loops stay fast.

A `Geometry` describes one window operation on one input size. Reading goes through `tap(x, i, j)`:
the (C, OH, OW, N) slice that kernel offset (i, j) sees at every output position. `view(x)` stacks the
taps into (kh, kw, C, OH, OW, N) without copying (im2col), and `scatter` is its adjoint (col2im): it adds
each tap's gradient back onto the pixels that tap read.
"""
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..errors import ClearCNNError
from .shapes import effective_kernel, output_hw, padding_amounts, size_report


@dataclass(frozen=True)
class Geometry:
    in_hw: tuple    # (H, W) before padding
    kernel: tuple   # (kh, kw)
    strides: tuple  # (sh, sw)
    dilation: tuple  # (dh, dw)
    pads: tuple     # ((top, bottom), (left, right))
    out_hw: tuple   # (OH, OW)

    @classmethod
    def of(cls, in_hw, kernel, strides=(1, 1), dilation=(1, 1), padding="valid", where="window"):
        """Geometry for an input of size `in_hw`; `padding` is "valid", "same" or explicit pairs."""
        in_hw = tuple(int(n) for n in in_hw)
        pads = padding_amounts(in_hw, kernel, strides, dilation, padding)
        for axis, n, k, d, (before, after) in zip(("height", "width"), in_hw, kernel, dilation, pads):
            if n + before + after < effective_kernel(k, d):
                report = size_report(n, k, 1, (before, after), d)
                raise ClearCNNError(report.message(f"{where} ({axis})"))
        return cls(in_hw, tuple(kernel), tuple(strides), tuple(dilation), pads,
                   output_hw(in_hw, kernel, strides, dilation, pads))

    @property
    def padded_hw(self):
        (t, b), (l, r) = self.pads
        return self.in_hw[0] + t + b, self.in_hw[1] + l + r

    def taps(self):
        """Kernel offsets (i, j) in row-major order: the order ties are broken in."""
        return [(i, j) for i in range(self.kernel[0]) for j in range(self.kernel[1])]

    def tap_offsets(self):
        """(rows, cols): tap t of the window at output (y, x) reads padded cell (y*sh + rows[t], x*sw + cols[t]),
        taps in the order of taps(). For compiled kernels, which take the window's shape as numbers."""
        (dh, dw), taps = self.dilation, self.taps()
        return (np.array([i * dh for i, _ in taps], np.int64), np.array([j * dw for _, j in taps], np.int64))

    def tap(self, xp, i, j):
        """View (C, OH, OW, N) of padded `xp`: tap[c, y, x, n] = xp[c, y*sh + i*dh, x*sw + j*dw, n]."""
        (sh, sw), (dh, dw), (oh, ow) = self.strides, self.dilation, self.out_hw
        return xp[:, i * dh: i * dh + (oh - 1) * sh + 1: sh, j * dw: j * dw + (ow - 1) * sw + 1: sw]

    def view(self, xp):
        """All taps at once, without copying: (kh, kw, C, OH, OW, N)."""
        c, _, _, n = xp.shape
        s_c, s_h, s_w, s_n = xp.strides
        (kh, kw), (sh, sw), (dh, dw), (oh, ow) = self.kernel, self.strides, self.dilation, self.out_hw
        return as_strided(xp, (kh, kw, c, oh, ow, n),
                          (s_h * dh, s_w * dw, s_c, s_h * sh, s_w * sw, s_n), writeable=False)

    def pad(self, x, value=0.0, out=None):
        """(C, H, W, N) `x` with the border added, written into `out` when given; `x` itself when there is
        no padding."""
        (t, b), (l, r) = self.pads
        if not (t or b or l or r):
            return x
        c, h, w, n = x.shape
        xp = np.empty((c, h + t + b, w + l + r, n), dtype=x.dtype) if out is None else out
        xp[:, :t] = xp[:, t + h:] = value
        xp[:, :, :l] = xp[:, :, l + w:] = value
        xp[:, t:t + h, l:l + w] = x
        return xp

    def unpad(self, xp):
        """The inner (C, H, W, N) part of a padded array (a view)."""
        (t, _), (l, _) = self.pads
        h, w = self.in_hw
        return xp[:, t:t + h, l:l + w]

    def is_padded(self):
        return any(self.pads[0] + self.pads[1])

    def scatter(self, windows, out=None):
        """Adjoint of `view`: sum (kh, kw, C, OH, OW, N) window values back onto the (C, H, W, N) input.
        `out`, an array of the padded shape, is written into instead of a new one when there is padding."""
        _, _, c, _, _, n = windows.shape
        dxp = out if out is not None and self.is_padded() else np.empty((c, *self.padded_hw, n), windows.dtype)
        self.scatter_channels(windows, dxp, 0, c)
        return np.ascontiguousarray(self.unpad(dxp))

    def scatter_channels(self, windows, dxp, start, stop):
        """scatter's sums for channels start to stop, into the padded `dxp`, one tap at a time."""
        part = dxp[start:stop]
        part.fill(0)
        for i, j in self.taps():
            target = self.tap(part, i, j)
            target += windows[i, j, start:stop]
