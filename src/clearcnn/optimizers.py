"""Optimizers with Keras 3's defaults and update rules. The optimizer owns its state, created once.

Each `update(value, grad, slots, t)` changes one variable in place; `t` is the 1-based step number.
"""
import numpy as np

from . import ops
from .errors import ClearCNNError, check_bool, check_int, check_number, construct, format_bytes, real_array

# The ranges of the hyperparameters. A decay rate of 1 would never move its average from zero (Adam's bias
# correction would divide by zero), so it stays below 1; every value must be finite.
MOMENTUM = "a number in [0, 1] such as 0.9"
DECAY = "a number in [0, 1) such as {}"
EPSILON = "a small non-negative number such as 1e-07"


class Optimizer:
    slot_names = ()

    def __init__(self, learning_rate=0.001, name=None, **unsupported):
        for key, value in unsupported.items():
            if value is not None:
                raise ClearCNNError(f"{type(self).__name__}: argument `{key}` is not supported; received {key}={value!r}.")
        self.learning_rate = self.check("learning_rate", learning_rate, "a positive number such as 0.001",
                                        lambda v: v > 0)
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

    def apply(self, weights):
        """One step for every weight whose `.grad` is set (the model's trainable weights, in order)."""
        if self.slots is None or [id(w) for w in weights] != self.owners:
            self.build(weights)
        self.iterations += 1
        for weight, slots in zip(weights, self.slots):
            self.update(weight.value, weight.grad.astype(weight.value.dtype, copy=False), slots, self.iterations)

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

    def checked(self, array, shape, what):
        """`array` as real numbers of `shape`, or ClearCNNError."""
        array = real_array(array, type(self).__name__, what)
        if array.shape != shape:
            raise ClearCNNError(f"{type(self).__name__}: {what} must have shape {shape}; received an array of shape "
                                f"{array.shape}.")
        return array

    def get_config(self):
        return {"name": self.name, "learning_rate": self.learning_rate}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class SGD(Optimizer):
    """velocity = momentum * velocity - lr * g;  w += velocity  (or, with nesterov,
    w += momentum * velocity - lr * g). With momentum 0: w -= lr * g."""
    slot_names = ("velocity",)

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, name=None, **unsupported):
        super().__init__(learning_rate, name, **unsupported)
        self.momentum = self.check("momentum", momentum, MOMENTUM, lambda v: 0 <= v <= 1)
        self.nesterov = check_bool(nesterov, "SGD", "nesterov")

    def update(self, w, g, slots, t):
        ops.sgd_step(w, g, slots[0], self.learning_rate, self.momentum, self.nesterov)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """m += (1 - beta_1) (g - m);  v += (1 - beta_2) (g^2 - v);
    w -= lr * sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v) + epsilon)   (Keras's epsilon placement)."""
    slot_names = ("m", "v")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, name=None, **unsupported):
        super().__init__(learning_rate, name, **unsupported)
        self.beta_1 = self.check("beta_1", beta_1, DECAY.format(0.9), lambda v: 0 <= v < 1)
        self.beta_2 = self.check("beta_2", beta_2, DECAY.format(0.999), lambda v: 0 <= v < 1)
        self.epsilon = self.check("epsilon", epsilon, EPSILON, lambda v: v >= 0)

    def update(self, w, g, slots, t):
        ops.adam_step(w, g, *slots, self.learning_rate, self.beta_1, self.beta_2, self.epsilon, t)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


class RMSprop(Optimizer):
    """v = rho * v + (1 - rho) g^2;  step = lr * g / sqrt(v + epsilon);
    w -= step, or with momentum: buf = momentum * buf + step; w -= buf."""
    slot_names = ("velocity", "momentum")

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, name=None, **unsupported):
        super().__init__(learning_rate, name, **unsupported)
        self.rho = self.check("rho", rho, DECAY.format(0.9), lambda v: 0 <= v < 1)
        self.momentum = self.check("momentum", momentum, MOMENTUM, lambda v: 0 <= v <= 1)
        self.epsilon = self.check("epsilon", epsilon, EPSILON, lambda v: v >= 0)

    def update(self, w, g, slots, t):
        ops.rmsprop_step(w, g, *slots, self.learning_rate, self.rho, self.momentum, self.epsilon)

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon}


OPTIMIZERS = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop}


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

