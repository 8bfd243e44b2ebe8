"""Weight initialisers with Keras's names and fan rules.

For a conv kernel (kh, kw, in, out): fan_in = kh*kw*in, fan_out = kh*kw*out.
For a dense kernel (in, out): fan_in = in, fan_out = out.
"""
import numpy as np

from .errors import ClearCNNError, check_int, check_memory, construct, memory_message
from .utils import random_generator, to_snake_case


def compute_fans(shape):
    """(fan_in, fan_out) as Keras computes them."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive_field = int(np.prod(shape[:-2]))
    return shape[-2] * receptive_field, shape[-1] * receptive_field


class Initializer:
    def __init__(self, seed=None):
        if seed is not None:
            check_int(seed, type(self).__name__, "seed", "None or a non-negative integer such as 42")
        self.seed = seed

    def __call__(self, shape, dtype="float32", where=None, what="the weights"):
        """Values of `shape`; a size that cannot fit in memory is refused before anything is allocated."""
        shape, where = tuple(shape), where or type(self).__name__
        fix = "use fewer units or filters, a smaller kernel, or a smaller input (pooling before Flatten)"
        check_memory(where, what, shape, dtype, fix)
        try:
            return np.asarray(self.sample(shape, random_generator(self.seed)), dtype=dtype)
        except MemoryError:  # below the machine's memory, but more than is free now
            raise ClearCNNError(memory_message(where, what, shape, dtype, fix)) from None

    def get_config(self):
        return {"seed": self.seed}


class Zeros(Initializer):
    def sample(self, shape, rng):
        return np.zeros(shape)


class Ones(Initializer):
    def sample(self, shape, rng):
        return np.ones(shape)


class VarianceScaling(Initializer):
    """Samples with variance scale / n, where n is fan_in, fan_out or their mean (Keras's rule).

    uniform: U(-limit, limit) with limit = sqrt(3 * scale / n).
    truncated_normal: N(0, stddev) cut at 2 stddev, stddev = sqrt(scale / n) / 0.8796... so that the
    truncated distribution keeps the wanted variance.
    """
    scale, mode, distribution = 1.0, "fan_in", "truncated_normal"

    def sample(self, shape, rng):
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, n)
        if self.distribution == "uniform":
            limit = np.sqrt(3.0 * variance)
            return rng.uniform(-limit, limit, shape)
        stddev = np.sqrt(variance) / 0.87962566103423978
        values = rng.standard_normal(shape)
        outside = np.abs(values) > 2
        while outside.any():  # redraw the tails: a truncated normal
            values[outside] = rng.standard_normal(int(outside.sum()))
            outside = np.abs(values) > 2
        return values * stddev


class GlorotUniform(VarianceScaling):
    mode, distribution = "fan_avg", "uniform"


class GlorotNormal(VarianceScaling):
    mode = "fan_avg"


class HeNormal(VarianceScaling):
    scale = 2.0


class HeUniform(VarianceScaling):
    scale, distribution = 2.0, "uniform"


class LecunNormal(VarianceScaling):
    pass


INITIALIZERS = {"zeros": Zeros, "ones": Ones, "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal,
                "he_normal": HeNormal, "he_uniform": HeUniform, "lecun_normal": LecunNormal}
NAMES = {cls: name for name, cls in INITIALIZERS.items()}


def get(identifier, where="layer", argument="kernel_initializer"):
    """An Initializer from a Keras name (snake or Class case), a config dict or an instance."""
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, dict) and "class_name" in identifier:
        return construct(type(get(identifier["class_name"], where, argument)), identifier.get("config") or {}, where,
                         argument)
    if isinstance(identifier, str):
        key = identifier if identifier in INITIALIZERS else to_snake_case(identifier)
        if key in INITIALIZERS:
            return INITIALIZERS[key]()
    raise ClearCNNError(f"{where}: argument `{argument}` must be one of {', '.join(INITIALIZERS)} or an "
                        f"Initializer; received {argument}={identifier!r}.")


def serialize(initializer):
    name = NAMES.get(type(initializer), type(initializer).__name__)
    return name if initializer.seed is None else {"class_name": name, "config": initializer.get_config()}
