"""Learning-rate schedules, as keras.optimizers.schedules: an optimizer given one as `learning_rate` calls it with
its step count before each update (0 at the first step), as Keras does.

    ExponentialDecay:        initial * decay_rate ** (step / decay_steps)   (the exponent floored with staircase)
    PiecewiseConstantDecay:  values[0] while step <= boundaries[0], values[i + 1] while
                             boundaries[i] < step <= boundaries[i + 1], values[-1] after the last boundary
    CosineDecay:             an optional linear warmup from initial to warmup_target over warmup_steps, then
                             from_lr * ((1 - alpha) * (1 + cos(pi * s / decay_steps)) / 2 + alpha), s capped at
                             decay_steps

>>> ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)(20)
0.025
"""
import math

from . import _namespaces
from .errors import ClearCNNError, check_bool, check_number, construct, fail, is_sequence


def _rate(schedule, argument, value):
    return check_number(value, type(schedule).__name__, argument, "a non-negative number such as 0.01",
                        lambda v: v >= 0)


def _steps(schedule, argument, value, low=1):
    """A step count: Keras takes floats as well as ints."""
    return check_number(value, type(schedule).__name__, argument, f"a number of steps of at least {low} such as "
                        f"1000", lambda v: v >= low)


class LearningRateSchedule:
    def __call__(self, step):
        raise NotImplementedError

    @classmethod
    def from_config(cls, config):
        return construct(cls, dict(config), cls.__name__, "config")

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"


class ExponentialDecay(LearningRateSchedule):
    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="ExponentialDecay"):
        self.initial_learning_rate = _rate(self, "initial_learning_rate", initial_learning_rate)
        self.decay_steps = _steps(self, "decay_steps", decay_steps, low=1e-12)
        self.decay_rate = _rate(self, "decay_rate", decay_rate)
        self.staircase = check_bool(staircase, "ExponentialDecay", "staircase")
        self.name = name

    def __call__(self, step):
        power = step / self.decay_steps
        return self.initial_learning_rate * self.decay_rate ** (math.floor(power) if self.staircase else power)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class PiecewiseConstantDecay(LearningRateSchedule):
    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        where = "PiecewiseConstantDecay"
        if not is_sequence(boundaries):
            fail(where, "boundaries", boundaries, "a list of step numbers such as [1000, 2000]")
        if not is_sequence(values) or len(values) != len(boundaries) + 1:
            fail(where, "values", values, f"a list of {len(list(boundaries)) + 1} learning rates, one more than the "
                 f"boundaries")
        self.boundaries = [check_number(b, where, "boundaries", "a list of step numbers such as [1000, 2000]")
                           for b in boundaries]
        self.values = [_rate(self, "values", v) for v in values]
        self.name = name

    def __call__(self, step):
        return self.values[sum(step > b for b in self.boundaries)]

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class CosineDecay(LearningRateSchedule):
    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay", warmup_target=None,
                 warmup_steps=0):
        self.initial_learning_rate = _rate(self, "initial_learning_rate", initial_learning_rate)
        self.decay_steps = _steps(self, "decay_steps", decay_steps, low=1e-12)
        self.alpha = _rate(self, "alpha", alpha)
        self.name = name
        self.warmup_target = None if warmup_target is None else _rate(self, "warmup_target", warmup_target)
        self.warmup_steps = _steps(self, "warmup_steps", warmup_steps, low=0)

    def _decayed(self, step, from_lr):
        cosine = 0.5 * (1.0 + math.cos(math.pi * step / self.decay_steps))
        return from_lr * ((1 - self.alpha) * cosine + self.alpha)

    def __call__(self, step):
        if self.warmup_target is None:
            return self._decayed(min(step, self.decay_steps), self.initial_learning_rate)
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            return (self.warmup_target - self.initial_learning_rate) * step / self.warmup_steps + \
                self.initial_learning_rate
        return self._decayed(step - self.warmup_steps, self.warmup_target)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "alpha": self.alpha, "name": self.name, "warmup_target": self.warmup_target,
                "warmup_steps": self.warmup_steps}


SCHEDULES = {cls.__name__: cls for cls in (ExponentialDecay, PiecewiseConstantDecay, CosineDecay)}


def deserialize(config, where="optimizer", argument="learning_rate"):
    """A schedule from Keras's {class_name, config}, or ClearCNNError naming one clearcnn lacks."""
    cls = SCHEDULES.get(config.get("class_name"))
    if cls is None or not isinstance(config.get("config") or {}, dict):
        raise ClearCNNError(f"{where}: argument `{argument}` holds the schedule {config.get('class_name')!r}; "
                            f"clearcnn has {', '.join(SCHEDULES)}.")
    return construct(cls, config.get("config") or {}, where, argument)


def serialize(schedule):
    return {"module": "keras.optimizers.schedules", "class_name": type(schedule).__name__,
            "config": schedule.get_config(), "registered_name": None}


__getattr__ = _namespaces.missing(__name__, keras_name="keras.optimizers.schedules")
