"""Output sizes, padding amounts and the diagnostic for windows that do not fit.

One side of an image at a time: the 2-D functions apply the 1-D rule to height and width.

    effective kernel   k_eff = (k - 1) * d + 1          (d = dilation)
    output size        out   = floor((N + p_before + p_after - k_eff) / s) + 1
"""
from dataclasses import dataclass, field

import numpy as np

from ..errors import ClearCNNError


def effective_kernel(kernel, dilation=1):
    """Span of a dilated kernel: (k - 1) * d + 1 pixels."""
    return (kernel - 1) * dilation + 1


def output_size(n, kernel, stride=1, padding=0, dilation=1, strict=False):
    """The output-size formula `(N + 2p - k_eff) / s + 1`, floored as Keras does.

    `padding` is the pixels added on each side (an int) or a pair (before, after).
    With `strict=True`, a size that is not a whole number raises ClearCNNError with the
    diagnostic instead of being floored.

    >>> output_size(7, 3, stride=2)
    3
    >>> output_size(6, 3, stride=2)
    2
    """
    report = size_report(n, kernel, stride, padding, dilation)
    if report.size == 0 or (strict and not report.fits):  # a kernel larger than its input is always an error
        raise ClearCNNError(report.message())
    return report.size


@dataclass
class SizeReport:
    """What one side of a window operation does: the formula, its exact value, and the pixels no window reads."""

    n: int
    kernel: int
    stride: int
    padding: tuple
    dilation: int
    exact: float
    size: int
    uncovered: list = field(default_factory=list)

    @property
    def fits(self):
        """True when the windows end exactly at the last (padded) pixel."""
        return self.size > 0 and float(self.exact).is_integer()

    def formula(self):
        """The formula with the numbers filled in, e.g. `(6 + 2*0 - 3) / 2 + 1 = 2.5`."""
        before, after = self.padding
        pad = f"2*{before}" if before == after else f"{before} + {after}"
        k = str(self.kernel) if self.dilation == 1 else f"{effective_kernel(self.kernel, self.dilation)}"
        value = f"{self.exact:g}"
        return f"({self.n} + {pad} - {k}) / {self.stride} + 1 = {value}"

    def fixes(self):
        """Two concrete ways to make the windows fit: more padding, or another input size."""
        before, after = self.padding
        span = self.n + before + after - effective_kernel(self.kernel, self.dilation)
        if span < 0:
            return [f"pad {-span} more pixel(s), e.g. padding=\"same\"",
                    f"use an input of at least {self.n - span} pixels"]
        remainder = span % self.stride
        if remainder == 0:
            return []
        add = self.stride - remainder
        return [f"pad {add} more pixel(s) at the end: padding=\"same\" or explicit ({before}, {after + add}), "
                f"for an output of {self.size + 1}",
                f"use an input of {self.n - remainder} pixels (output {self.size}) or {self.n + add} pixels "
                f"(output {self.size + 1}) instead of {self.n}"]

    def message(self, where="window", axis="rows"):
        """One paragraph: formula, what Keras does, which pixels are skipped, two fixes."""
        before, after = self.padding
        if self.n + before + after < effective_kernel(self.kernel, self.dilation):
            return (f"{where}: the kernel ({effective_kernel(self.kernel, self.dilation)} pixels) is larger than "
                    f"the padded input ({self.n} + {before + after} pixels); fixes: " + "; or ".join(self.fixes()))
        skipped = ", ".join(str(i) for i in self.uncovered) or "none"
        named = f"input {axis[:-1]} {skipped} is" if len(self.uncovered) == 1 else f"input {axis} {skipped} are"
        return (f"{where}: {self.formula()} is not a whole number; the output has {self.size} {axis} "
                f"(floored, as Keras does) and {named} covered by no window. "
                f"Fixes: " + "; or ".join(self.fixes()) + ".")


def size_report(n, kernel, stride=1, padding=0, dilation=1):
    """Compute a SizeReport for one side; `padding` is an int or a (before, after) pair."""
    pair = (padding, padding) if is_int(padding, 0) else tuple(padding) if isinstance(padding, (tuple, list)) else ()
    for argument, value, ok in (("n", n, is_int(n, 1)), ("kernel", kernel, is_int(kernel, 1)),
                                ("stride", stride, is_int(stride, 1)), ("dilation", dilation, is_int(dilation, 1)),
                                ("padding", padding, len(pair) == 2 and all(is_int(p, 0) for p in pair))):
        if not ok:
            expected = "a non-negative int or a (before, after) pair" if argument == "padding" else "a positive int"
            raise ClearCNNError(f"size_report: argument `{argument}` must be {expected}; received {argument}={value!r}.")
    before, after = pair
    k_eff = effective_kernel(kernel, dilation)
    span = n + before + after - k_eff
    exact = span / stride + 1
    size = span // stride + 1 if span >= 0 else 0
    read = {o * stride + t * dilation - before for o in range(size) for t in range(kernel)}
    uncovered = [i for i in range(n) if i not in read]
    return SizeReport(n, kernel, stride, (before, after), dilation, exact, size, uncovered)


def is_int(value, low=None):
    """An int (Python or NumPy, not bool), at least `low` when given."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and (low is None or value >= low)


def same_padding(n, kernel, stride=1, dilation=1):
    """Keras's "same" rule: output ceil(N / s); the odd padded pixel goes after (bottom/right)."""
    out = -(-n // stride)
    total = max(0, (out - 1) * stride + effective_kernel(kernel, dilation) - n)
    return total // 2, total - total // 2


def padding_amounts(shape_hw, kernel, strides, dilation, padding):
    """((top, bottom), (left, right)) for a padding spec that is already normalised
    ("valid", "same", or explicit pairs)."""
    if padding == "valid":
        return (0, 0), (0, 0)
    if padding == "same":
        return tuple(same_padding(n, k, s, d) for n, k, s, d in zip(shape_hw, kernel, strides, dilation))
    return padding


def output_hw(shape_hw, kernel, strides, dilation, pads):
    """Output (height, width) for explicit pads."""
    return tuple(size_report(n, k, s, p, d).size
                 for n, k, s, p, d in zip(shape_hw, kernel, strides, pads, dilation))
