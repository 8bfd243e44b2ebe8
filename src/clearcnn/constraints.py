"""Weight constraints, as Keras 3's: a projection applied to a weight after each optimizer update.

    MaxNorm(max_value=2, axis=0):   rescale each slice whose L2 norm (over `axis`) exceeds max_value
    MinMaxNorm(min_value=0, max_value=1, rate=1, axis=0): move each norm towards [min_value, max_value]
    UnitNorm(axis=0):               each slice to norm 1
    NonNeg():                       negative values to 0

`axis` is the axis (or list of axes) the norm runs over: for a Dense kernel (in, units), axis=0 constrains each
unit's incoming weights; for a Conv2D kernel (kh, kw, in, filters), axis=[0, 1, 2] each filter. Norms get
Keras's epsilon (1e-7) in the denominator.

>>> import numpy as np
>>> MaxNorm(1.0)(np.array([[3.0], [4.0]])).round(6).ravel().tolist()
[0.6, 0.8]
"""
import numpy as np

from . import _namespaces
from .configurable import Catalog, Configurable, serialize  # noqa: F401 (public: clearcnn.constraints.serialize)
from .errors import check_number, fail

EPSILON = 1e-7  # keras.config.epsilon()


class Constraint(Configurable):
    def __call__(self, w):
        return w


def _axis(constraint, axis):
    """An axis or a list of axes, as Keras takes them (a tuple too)."""
    if isinstance(axis, (list, tuple)) and axis and all(isinstance(a, int) and not isinstance(a, bool) for a in axis):
        return list(axis)
    if isinstance(axis, int) and not isinstance(axis, bool):
        return axis
    fail(type(constraint).__name__, "axis", axis, "an axis or a list of axes such as 0 or [0, 1, 2]")


def _norms(w, axis):
    return np.sqrt(np.sum(np.square(w), axis=tuple(axis) if isinstance(axis, list) else axis, keepdims=True))


class _NormConstraint(Constraint):
    """Rescales each slice of the weight to a desired norm, a function of its current norm."""

    def __call__(self, w):
        norms = _norms(w, self.axis)
        return (w * (self.desired(norms) / (EPSILON + norms))).astype(w.dtype, copy=False)


class MaxNorm(_NormConstraint):
    def __init__(self, max_value=2, axis=0):
        self.max_value = check_number(max_value, "MaxNorm", "max_value", "a non-negative number such as 2",
                                      lambda v: v >= 0)
        self.axis = _axis(self, axis)

    def desired(self, norms):
        return np.clip(norms, 0, self.max_value)

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class MinMaxNorm(_NormConstraint):
    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value = check_number(min_value, "MinMaxNorm", "min_value", "a non-negative number such as 0.0",
                                      lambda v: v >= 0)
        self.max_value = check_number(max_value, "MinMaxNorm", "max_value", f"a number not below min_value="
                                      f"{min_value!r}", lambda v: v >= self.min_value)
        self.rate = check_number(rate, "MinMaxNorm", "rate", "a number in [0, 1] such as 1.0", lambda v: 0 <= v <= 1)
        self.axis = _axis(self, axis)

    def desired(self, norms):
        return self.rate * np.clip(norms, self.min_value, self.max_value) + (1 - self.rate) * norms

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate, "axis": self.axis}


class UnitNorm(_NormConstraint):
    def __init__(self, axis=0):
        self.axis = _axis(self, axis)

    def desired(self, norms):
        return np.ones_like(norms)

    def get_config(self):
        return {"axis": self.axis}


class NonNeg(Constraint):
    def __call__(self, w):
        return np.maximum(w, 0)


CLASSES = (MaxNorm, MinMaxNorm, UnitNorm, NonNeg)
# snake-case function names, as keras.constraints offers them: clearcnn.constraints.max_norm(3)
max_norm, min_max_norm, unit_norm, non_neg = CLASSES


CATALOG = Catalog(Constraint, CLASSES, f"None, one of {', '.join(c.__name__ for c in CLASSES)} or a Constraint "
                  f"such as MaxNorm(3)")
lookup = CATALOG.lookup


def get(identifier, where="layer", argument="kernel_constraint"):
    """None, or a Constraint from an instance, a name or a {class_name, config} dict."""
    return CATALOG.get(identifier, where, argument)


__getattr__ = _namespaces.missing(__name__)
