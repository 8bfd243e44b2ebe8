"""Weight and activity penalties, as Keras 3's regularizers: L1, L2 and L1L2, by object, by name ("l1", "l2",
"l1_l2", Class names too) or by {class_name, config}.

A regularizer is called on a weight (or a layer's output) and gives the penalty added to the loss;
`gradient` gives the penalty's derivative, which training adds to the weight's gradient.

    L1(l1):      l1 * sum(|x|)       gradient l1 * sign(x)
    L2(l2):      l2 * sum(x^2)       gradient 2 * l2 * x
    L1L2(l1, l2): the sum of both

>>> import numpy as np
>>> L2(0.5)(np.array([1.0, -2.0])), get("l1").get_config()
(2.5, {'l1': 0.01})
"""
import numpy as np

from . import _namespaces
from .configurable import Catalog, Configurable, serialize  # noqa: F401 (public: clearcnn.regularizers.serialize)
from .errors import check_number


def _factor(regularizer, argument, value, default):
    """A non-negative finite factor as a float (None: Keras's default for that factor)."""
    value = default if value is None else value
    return check_number(value, type(regularizer).__name__, argument, "a non-negative number such as 0.01",
                        lambda v: v >= 0)


class Regularizer(Configurable):
    def __call__(self, x):
        return 0.0

    def gradient(self, x):
        return np.zeros_like(x)


class L1L2(Regularizer):
    """l1 * sum(|x|) + l2 * sum(x^2); both factors default to 0 (the string "l1_l2" gives 0.01 each, as Keras)."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _factor(self, "l1", l1, 0.0)
        self.l2 = _factor(self, "l2", l2, 0.0)

    def __call__(self, x):
        x = np.asarray(x, dtype=np.float64)
        return float(self.l1 * np.abs(x).sum() + self.l2 * np.square(x).sum())

    def gradient(self, x):
        return (self.l1 * np.sign(x) + (2 * self.l2) * x).astype(x.dtype, copy=False)

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    def __init__(self, l1=0.01):
        super().__init__(l1=_factor(self, "l1", l1, 0.01))

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    def __init__(self, l2=0.01):
        super().__init__(l2=_factor(self, "l2", l2, 0.01))

    def get_config(self):
        return {"l2": self.l2}


CLASSES = (L1, L2, L1L2)
# snake-case function names, as keras.regularizers offers them: clearcnn.regularizers.l2(0.001)
l1, l2, l1_l2 = L1, L2, L1L2


CATALOG = Catalog(Regularizer, CLASSES, 'None, "l1", "l2", "l1_l2" or a Regularizer such as L2(0.001)',
                  extra={"l1": L1, "l2": L2, "l1_l2": lambda: L1L2(l1=0.01, l2=0.01)})
lookup = CATALOG.lookup


def get(identifier, where="layer", argument="kernel_regularizer"):
    """None, or a Regularizer from an instance, a name or a {class_name, config} dict."""
    return CATALOG.get(identifier, where, argument)


__getattr__ = _namespaces.missing(__name__)
