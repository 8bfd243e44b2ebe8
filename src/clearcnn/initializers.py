"""Weight initialisers: Keras 3's set, with its arguments, fan rules, names and configs.

For a conv kernel (kh, kw, in, out): fan_in = kh*kw*in, fan_out = kh*kw*out.
For a dense kernel (in, out): fan_in = in, fan_out = out. A bias (n,): fan_in = fan_out = n.
Names are accepted as Keras accepts them: the class name ("HeNormal"), its snake case ("he_normal") and
Keras's aliases ("normal", "uniform", "zero", "one").

>>> VarianceScaling(scale=2.0, mode="fan_in", distribution="uniform", seed=1)((3, 3, 4, 8)).shape
(3, 3, 4, 8)
>>> get("orthogonal").get_config()
{'seed': None, 'gain': 1.0}
"""
import numpy as np

from . import _namespaces
from .configurable import Catalog, Configurable
from .errors import ClearCNNError, check_int, check_memory, check_number, fail, memory_message
from .utils import random_generator, to_snake_case

# sqrt(variance) of a standard normal cut at +-2, which VarianceScaling divides by so that the truncated values
# keep the variance asked for (Keras's constant).
TRUNCATED_STD = 0.87962566103423978


def compute_fans(shape, input_axes=None, output_axes=None):
    """(fan_in, fan_out) as Keras computes them; given both axis lists, the products of those axes."""
    shape = tuple(shape)
    if input_axes is not None and output_axes is not None:
        return int(np.prod([shape[a] for a in input_axes])), int(np.prod([shape[a] for a in output_axes]))
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive_field = int(np.prod(shape[:-2]))
    return shape[-2] * receptive_field, shape[-1] * receptive_field


def draw_truncated_normal(rng, shape, mean, stddev):
    """N(mean, stddev) cut at 2 stddev around the mean: values outside are drawn again, as Keras does."""
    values = rng.standard_normal(shape)
    outside = np.abs(values) > 2
    while outside.any():
        values[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(values) > 2
    return mean + stddev * values


class Initializer(Configurable):
    """Values for a weight of a given shape. Subclasses define `sample(shape, rng)` and `get_config`."""

    def __call__(self, shape, dtype="float32", where=None, what="the weights"):
        """Values of `shape`; a size that cannot fit in memory is refused before anything is allocated."""
        shape, where = tuple(shape), where or type(self).__name__
        fix = "use fewer units or filters, a smaller kernel, or a smaller input (pooling before Flatten)"
        check_memory(where, what, shape, dtype, fix)
        try:
            return np.asarray(self.sample(shape, random_generator(getattr(self, "seed", None))), dtype=dtype)
        except MemoryError:  # below the machine's memory, but more than is free now
            raise ClearCNNError(memory_message(where, what, shape, dtype, fix)) from None


def _number(initializer, argument, value, expected="a finite number such as 0.05", within=lambda v: True):
    return check_number(value, type(initializer).__name__, argument, expected, within)


class Zeros(Initializer):
    def sample(self, shape, rng):
        return np.zeros(shape)


class Ones(Initializer):
    def sample(self, shape, rng):
        return np.ones(shape)


class Constant(Initializer):
    """Every value equals `value` (a scalar)."""

    def __init__(self, value=0.0):
        self.value = _number(self, "value", value, "a finite number such as 0.1")

    def sample(self, shape, rng):
        return np.full(shape, self.value)

    def get_config(self):
        return {"value": self.value}


class Identity(Initializer):
    """gain * the identity matrix; for 2-D weights only (a Dense kernel), as in Keras."""

    def __init__(self, gain=1.0):
        self.gain = _number(self, "gain", gain, "a finite number such as 1.0")

    def sample(self, shape, rng):
        if len(shape) != 2:
            raise ClearCNNError(f"Identity: initializes 2-D weights only (a Dense kernel); received shape {shape}. "
                                f"Use Orthogonal for a convolution kernel.")
        return self.gain * np.eye(*shape)

    def get_config(self):
        return {"gain": self.gain}


class RandomInitializer(Initializer):
    """An initializer that draws: with a seed its values are the same at every call, without one they come from
    the shared generator (clearcnn.utils.set_random_seed)."""

    def __init__(self, seed=None):
        if seed is not None:
            check_int(seed, type(self).__name__, "seed", "None or a non-negative integer such as 42")
        self.seed = seed

    def get_config(self):
        return {"seed": self.seed}


class RandomNormal(RandomInitializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean = _number(self, "mean", mean)
        self.stddev = _number(self, "stddev", stddev, "a non-negative number such as 0.05", lambda v: v >= 0)

    def sample(self, shape, rng):
        return rng.normal(self.mean, self.stddev, shape)

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class TruncatedNormal(RandomNormal):
    """N(mean, stddev) cut at two standard deviations from the mean."""

    def sample(self, shape, rng):
        return draw_truncated_normal(rng, shape, self.mean, self.stddev)


class RandomUniform(RandomInitializer):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval = _number(self, "minval", minval, "a finite number such as -0.05")
        self.maxval = _number(self, "maxval", maxval, f"a finite number not below minval={minval!r}",
                              lambda v: v >= self.minval)

    def sample(self, shape, rng):
        return rng.uniform(self.minval, self.maxval, shape)

    def get_config(self):
        return {**super().get_config(), "minval": self.minval, "maxval": self.maxval}


class VarianceScaling(RandomInitializer):
    """Samples with variance scale / n, where n is fan_in, fan_out or their mean (Keras's rule).

    uniform: U(-limit, limit) with limit = sqrt(3 * scale / n).
    truncated_normal ("normal" is an alias): N(0, stddev) cut at 2 stddev, stddev = sqrt(scale / n) / 0.8796...,
    so that the truncated distribution keeps the wanted variance. untruncated_normal: N(0, sqrt(scale / n)).
    """
    MODES = ("fan_in", "fan_out", "fan_avg")
    DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None, input_axes=None,
                 output_axes=None):
        super().__init__(seed)
        name = type(self).__name__
        self.scale = _number(self, "scale", scale, "a positive number such as 2.0", lambda v: v > 0)
        if mode not in self.MODES:
            fail(name, "mode", mode, " or ".join(map(repr, self.MODES)))
        self.mode = mode
        distribution = distribution.lower() if isinstance(distribution, str) else distribution
        distribution = "truncated_normal" if distribution == "normal" else distribution
        if distribution not in self.DISTRIBUTIONS:
            fail(name, "distribution", distribution, " or ".join(map(repr, self.DISTRIBUTIONS + ("normal",))))
        self.distribution = distribution
        for argument, axes in (("input_axes", input_axes), ("output_axes", output_axes)):
            if axes is not None and not (isinstance(axes, (list, tuple)) and
                                         all(isinstance(a, int) and not isinstance(a, bool) for a in axes)):
                fail(name, argument, axes, "None or a list of axes such as [0, 1, 2]")
        self.input_axes = None if input_axes is None else list(input_axes)
        self.output_axes = None if output_axes is None else list(output_axes)

    def sample(self, shape, rng):
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, n)
        if self.distribution == "uniform":
            limit = np.sqrt(3.0 * variance)
            return rng.uniform(-limit, limit, shape)
        if self.distribution == "untruncated_normal":
            return rng.normal(0.0, np.sqrt(variance), shape)
        return draw_truncated_normal(rng, shape, 0.0, np.sqrt(variance) / TRUNCATED_STD)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                "input_axes": self.input_axes, "output_axes": self.output_axes}


class _FixedVarianceScaling(VarianceScaling):
    """Glorot, He and LeCun: VarianceScaling with a fixed scale, mode and distribution (their only arguments are
    the seed and the axes, as in Keras)."""
    settings = {}

    def __init__(self, seed=None, input_axes=None, output_axes=None):
        super().__init__(**self.settings, seed=seed, input_axes=input_axes, output_axes=output_axes)

    def get_config(self):
        return {"seed": self.seed, "input_axes": self.input_axes, "output_axes": self.output_axes}


class GlorotUniform(_FixedVarianceScaling):
    settings = {"scale": 1.0, "mode": "fan_avg", "distribution": "uniform"}


class GlorotNormal(_FixedVarianceScaling):
    settings = {"scale": 1.0, "mode": "fan_avg", "distribution": "truncated_normal"}


class HeNormal(_FixedVarianceScaling):
    settings = {"scale": 2.0, "mode": "fan_in", "distribution": "truncated_normal"}


class HeUniform(_FixedVarianceScaling):
    settings = {"scale": 2.0, "mode": "fan_in", "distribution": "uniform"}


class LecunNormal(_FixedVarianceScaling):
    settings = {"scale": 1.0, "mode": "fan_in", "distribution": "truncated_normal"}


class LecunUniform(_FixedVarianceScaling):
    settings = {"scale": 1.0, "mode": "fan_in", "distribution": "uniform"}


class Orthogonal(RandomInitializer):
    """gain * an orthogonal matrix from the QR decomposition of a normal one, with the signs of R's diagonal
    (Keras's rule). A kernel of more than two axes is the (prod(shape[:-1]), shape[-1]) matrix reshaped; rows are
    orthogonal where there are fewer rows than columns, columns otherwise."""

    def __init__(self, gain=1.0, seed=None):
        super().__init__(seed)
        self.gain = _number(self, "gain", gain, "a finite number such as 1.0")

    def sample(self, shape, rng):
        if len(shape) < 2:
            raise ClearCNNError(f"Orthogonal: initializes weights of at least 2 axes (a kernel); received shape "
                                f"{shape}. Use Zeros or Constant for a bias.")
        rows, cols = int(np.prod(shape[:-1])), shape[-1]
        q, r = np.linalg.qr(rng.standard_normal((max(rows, cols), min(rows, cols))))
        q *= np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return self.gain * q.reshape(shape)

    def get_config(self):
        return {**super().get_config(), "gain": self.gain}


CLASSES = (Zeros, Ones, Constant, Identity, RandomNormal, TruncatedNormal, RandomUniform, VarianceScaling,
           GlorotUniform, GlorotNormal, HeNormal, HeUniform, LecunNormal, LecunUniform, Orthogonal)
INITIALIZERS = {to_snake_case(cls.__name__): cls for cls in CLASSES}
ALIASES = {"normal": RandomNormal, "uniform": RandomUniform, "zero": Zeros, "one": Ones,
           "IdentityInitializer": Identity, "OrthogonalInitializer": Orthogonal}
CATALOG = Catalog(Initializer, CLASSES, f"one of {', '.join(INITIALIZERS)} or an Initializer", extra=ALIASES)
lookup = CATALOG.lookup

# snake-case function names, as keras.initializers offers them: clearcnn.initializers.he_normal(seed=1)
(zeros, ones, constant, identity, random_normal, truncated_normal, random_uniform, variance_scaling, glorot_uniform,
 glorot_normal, he_normal, he_uniform, lecun_normal, lecun_uniform, orthogonal) = CLASSES


def get(identifier, where="layer", argument="kernel_initializer"):
    """An Initializer from a Keras name (snake or Class case), a {class_name, config} dict or an instance."""
    return CATALOG.get(identifier, where, argument, allow_none=False)


def serialize(initializer):
    """The snake-case name where the settings are the defaults (as configs have always read), else Keras's
    {class_name, config}."""
    cls = type(initializer)
    name = to_snake_case(cls.__name__)
    if name in INITIALIZERS and initializer.get_config() == cls().get_config():
        return name
    return {"class_name": cls.__name__, "config": initializer.get_config()}

__getattr__ = _namespaces.missing(__name__)
