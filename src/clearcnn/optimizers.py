"""Optimizers with Keras 3's defaults and update rules. The optimizer owns its state, created once.

Each `update(value, grad, slots, t, learning_rate)` changes one variable in place; `t` is the 1-based step number.
One step, as Keras's optimizer.apply: the learning rate (a schedule is called with the steps taken so far), then
for every variable the decoupled weight decay (w -= learning_rate * weight_decay * w), the update rule, and the
variable's constraint (a projection, such as MaxNorm).
"""
import numpy as np

from . import _namespaces, ops, schedules
from .errors import ClearCNNError, check_bool, check_int, check_number, construct, format_bytes, real_array

# The ranges of the hyperparameters. A decay rate of 1 would never move its average from zero (Adam's bias
# correction would divide by zero), so it stays below 1; every value must be finite.
MOMENTUM = "a number in [0, 1] such as 0.9"
DECAY = "a number in [0, 1) such as {}"
EPSILON = "a small non-negative number such as 1e-07"


# Keras's optimizer arguments that clearcnn has no use for, with their defaults: a file or a call may name them
# at these values (Keras writes them all into every optimizer config); any other value is refused.
KERAS_DEFAULTS = {"clipnorm": None, "clipvalue": None, "global_clipnorm": None, "use_ema": False,
                  "ema_momentum": 0.99, "ema_overwrite_frequency": None, "loss_scale_factor": None,
                  "gradient_accumulation_steps": None, "amsgrad": False, "centered": False}


class Optimizer:
    slot_names = ()

    def __init__(self, learning_rate=0.001, weight_decay=None, name=None, **unsupported):
        for key, value in unsupported.items():
            if key not in KERAS_DEFAULTS or value != KERAS_DEFAULTS[key]:
                raise ClearCNNError(f"{type(self).__name__}: argument `{key}` is not supported"
                                    f"{f' (only {key}={KERAS_DEFAULTS[key]!r})' if key in KERAS_DEFAULTS else ''}; "
                                    f"received {key}={value!r}.")
        if isinstance(learning_rate, dict) and "class_name" in learning_rate:  # a schedule, from a config
            learning_rate = schedules.deserialize(learning_rate, type(self).__name__)
        self.learning_rate = learning_rate if isinstance(learning_rate, schedules.LearningRateSchedule) else \
            self.check("learning_rate", learning_rate, "a positive number such as 0.001 or a schedule such as "
                       "ExponentialDecay(0.01, 1000, 0.9)", lambda v: v > 0)
        self.weight_decay = None if weight_decay is None else self.check(
            "weight_decay", weight_decay, "None or a non-negative number such as 0.004", lambda v: v >= 0)
        self.name = name or type(self).__name__.lower()
        self.iterations = 0
        self.slots = None  # one list of arrays per variable, built at the first step
        self.owners = []  # id() of the Weight each entry of `slots` belongs to

    def build(self, weights):
        """Zero slots for `weights`; slots already held for one of them (same Weight object) are kept, so a
        layer frozen or unfrozen between steps never receives another variable's state."""
        held = dict(zip(self.owners, self.slots)) if self.slots is not None else {}
        try:
            self.slots = [held.get(id(w)) or [np.zeros_like(w.value) for _ in self.slot_names] for w in weights]
        except MemoryError:  # the state is as large as the weights, once per slot
            need = len(self.slot_names) * sum(w.value.nbytes for w in weights)
            raise ClearCNNError(f"{type(self).__name__}: its state ({', '.join(self.slot_names)} for every weight) "
                                f"would need {format_bytes(need)} of memory, more than is free; train a smaller "
                                f"model.") from None
        self.owners = [id(w) for w in weights]

    def check(self, argument, value, expected, within):
        """A hyperparameter as a float: finite, and within its range."""
        return check_number(value, type(self).__name__, argument, expected, within)

    def current_learning_rate(self):
        """The learning rate of the next step: a schedule's value at the steps taken so far."""
        if isinstance(self.learning_rate, schedules.LearningRateSchedule):
            return float(self.learning_rate(self.iterations))
        return self.learning_rate

    def apply(self, weights):
        """One step for every weight whose `.grad` is set (the model's trainable weights, in order)."""
        if self.slots is None or [id(w) for w in weights] != self.owners:
            self.build(weights)
        learning_rate = self.current_learning_rate()
        self.iterations += 1
        for weight, slots in zip(weights, self.slots):
            if self.weight_decay:
                weight.value *= weight.value.dtype.type(1 - learning_rate * self.weight_decay)
            self.update(weight.value, weight.grad.astype(weight.value.dtype, copy=False), slots, self.iterations,
                        learning_rate)
            if getattr(weight, "constraint", None) is not None:
                weight.assign(weight.constraint(weight.value))

    def apply_gradients(self, grads_and_vars):
        """Keras's form: pairs of (gradient, Weight)."""
        pairs = list(grads_and_vars)
        grads = [self.checked(grad, weight.shape, f"the gradient of `{weight.name}`") for grad, weight in pairs]
        for grad, (_, weight) in zip(grads, pairs):
            weight.grad = grad
        self.apply([weight for _, weight in pairs])

    # The state, for saving and resuming exactly.
    def get_state(self):
        return self.iterations, [array for slots in (self.slots or []) for array in slots]

    def set_state(self, weights, iterations, arrays):
        """Restore saved state, all or nothing: the step count and every array are checked before any is set."""
        iterations = check_int(iterations, type(self).__name__, "iterations", "a non-negative integer")
        self.slots = None
        self.build(weights)
        flat = [array for slots in self.slots for array in slots]
        if len(arrays) != len(flat):
            raise ClearCNNError(f"{type(self).__name__}: saved state holds {len(arrays)} arrays; this model needs "
                                f"{len(flat)}, of shapes {[t.shape for t in flat]}.")
        arrays = [self.checked(a, t.shape, "saved state") for a, t in zip(arrays, flat)]
        for target, array in zip(flat, arrays):
            target[...] = array
        self.iterations = iterations

    # Keras's layout of the same state (a .keras file's optimizer/vars after the step count and learning rate):
    # the slots Keras keeps (`keras_slots`, indices into slot_names), per weight in turn, or with `keras_grouped`
    # slot by slot (every weight's first slot, then every weight's second).
    keras_grouped = False

    @property
    def keras_slots(self):
        return tuple(range(len(self.slot_names)))

    def keras_order(self, count):
        """[(weight index, slot index)] of the state arrays in Keras's order, for `count` weights."""
        if self.keras_grouped:
            return [(i, s) for s in self.keras_slots for i in range(count)]
        return [(i, s) for i in range(count) for s in self.keras_slots]

    def keras_state(self, weights):
        """(iterations, the slot arrays in Keras's order) for `weights`; zeros before the first step."""
        if self.slots is None or [id(w) for w in weights] != self.owners:
            self.build(weights)
        return self.iterations, [self.slots[i][s] for i, s in self.keras_order(len(weights))]

    def set_keras_state(self, weights, iterations, arrays):
        """Restore state kept in Keras's order (checked first, as set_state); slots Keras does not keep (SGD's
        velocity without momentum) start at zero."""
        self.slots = None
        self.build(weights)
        order = self.keras_order(len(weights))
        flat = [array for slots in self.slots for array in slots]
        state = [np.zeros_like(a) for a in flat]
        positions = {id(a): k for k, a in enumerate(flat)}
        for (i, s), array in zip(order, arrays):
            state[positions[id(self.slots[i][s])]] = array
        self.set_state(weights, iterations, state)

    def checked(self, array, shape, what):
        """`array` as real numbers of `shape`, or ClearCNNError."""
        array = real_array(array, type(self).__name__, what)
        if array.shape != shape:
            raise ClearCNNError(f"{type(self).__name__}: {what} must have shape {shape}; received an array of shape "
                                f"{array.shape}.")
        return array

    def get_config(self):
        learning_rate = self.learning_rate
        if isinstance(learning_rate, schedules.LearningRateSchedule):
            learning_rate = schedules.serialize(learning_rate)
        return {"name": self.name, "learning_rate": learning_rate, "weight_decay": self.weight_decay}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class SGD(Optimizer):
    """velocity = momentum * velocity - lr * g;  w += velocity  (or, with nesterov,
    w += momentum * velocity - lr * g). With momentum 0: w -= lr * g."""
    slot_names = ("velocity",)

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None, name=None,
                 **unsupported):
        super().__init__(learning_rate, weight_decay, name, **unsupported)
        self.momentum = self.check("momentum", momentum, MOMENTUM, lambda v: 0 <= v <= 1)
        self.nesterov = check_bool(nesterov, "SGD", "nesterov")

    def update(self, w, g, slots, t, learning_rate):
        ops.sgd_step(w, g, slots[0], learning_rate, self.momentum, self.nesterov)

    @property
    def keras_slots(self):
        return (0,) if self.momentum else ()  # Keras keeps no velocity without momentum

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """m += (1 - beta_1) (g - m);  v += (1 - beta_2) (g^2 - v);
    w -= lr * sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v) + epsilon)   (Keras's epsilon placement)."""
    slot_names = ("m", "v")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=None, name=None,
                 **unsupported):
        super().__init__(learning_rate, weight_decay, name, **unsupported)
        self.beta_1 = self.check("beta_1", beta_1, DECAY.format(0.9), lambda v: 0 <= v < 1)
        self.beta_2 = self.check("beta_2", beta_2, DECAY.format(0.999), lambda v: 0 <= v < 1)
        self.epsilon = self.check("epsilon", epsilon, EPSILON, lambda v: v >= 0)

    def update(self, w, g, slots, t, learning_rate):
        ops.adam_step(w, g, *slots, learning_rate, self.beta_1, self.beta_2, self.epsilon, t)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


class RMSprop(Optimizer):
    """v = rho * v + (1 - rho) g^2;  step = lr * g / sqrt(v + epsilon);
    w -= step, or with momentum: buf = momentum * buf + step; w -= buf."""
    slot_names = ("velocity", "momentum")

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, weight_decay=None, name=None,
                 **unsupported):
        super().__init__(learning_rate, weight_decay, name, **unsupported)
        self.rho = self.check("rho", rho, DECAY.format(0.9), lambda v: 0 <= v < 1)
        self.momentum = self.check("momentum", momentum, MOMENTUM, lambda v: 0 <= v <= 1)
        self.epsilon = self.check("epsilon", epsilon, EPSILON, lambda v: v >= 0)

    keras_grouped = True  # every weight's velocity, then every weight's momentum

    @property
    def keras_slots(self):
        return (0, 1) if self.momentum else (0,)

    def update(self, w, g, slots, t, learning_rate):
        ops.rmsprop_step(w, g, *slots, learning_rate, self.rho, self.momentum, self.epsilon)

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon}


class AdamW(Adam):
    """Adam with decoupled weight decay (0.004 by default, as Keras's AdamW)."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7, name=None,
                 **unsupported):
        if weight_decay is None:
            raise ClearCNNError("AdamW: argument `weight_decay` must be a non-negative number such as 0.004; "
                                "received weight_decay=None.")
        super().__init__(learning_rate, beta_1, beta_2, epsilon, weight_decay, name, **unsupported)


OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop}


def get(identifier):
    """An optimizer from a name ("adam"), a {"class_name", "config"} dict or an instance."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict) and str(identifier.get("class_name", "")).lower() in OPTIMIZERS:
        return construct(OPTIMIZERS[identifier["class_name"].lower()], identifier.get("config") or {}, "compile",
                         "optimizer")
    if isinstance(identifier, str) and identifier.lower() in OPTIMIZERS:
        return OPTIMIZERS[identifier.lower()]()
    raise ClearCNNError(f"compile: argument `optimizer` must be one of {', '.join(OPTIMIZERS)} or an Optimizer; "
                        f"received optimizer={identifier!r}.")


def serialize(optimizer):
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}

__getattr__ = _namespaces.missing(__name__, also=("schedules",))
