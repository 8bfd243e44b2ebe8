"""Optimizer steps, fast: SGD with momentum in one compiled pass over each weight, split over the engine's
threads; the other rules are the reference's."""
import numpy as np

from ..reference import optimizers as reference
from . import compiled
from .parallel import MIN_PART_ITEMS, run

adam_step, rmsprop_step = reference.adam_step, reference.rmsprop_step


def memory_order(*arrays):
    """"C" or "F" when all the arrays are contiguous in that order (ravel(order) is then a view of each), else
    None."""
    for order, flag in (("C", "c_contiguous"), ("F", "f_contiguous")):
        if all(getattr(a.flags, flag) for a in arrays):
            return order
    return None


def sgd_step(w, g, velocity, learning_rate, momentum, nesterov):
    kernels, order = compiled.kernels(), memory_order(w, velocity)
    if momentum == 0 or kernels is None or order is None:
        return reference.sgd_step(w, g, velocity, learning_rate, momentum, nesterov)
    # views of w and velocity, as they lie in memory; g is copied only when it lies in the other order
    flat_w, flat_g, flat_v = w.ravel(order), np.ravel(g, order), velocity.ravel(order)
    lr, momentum = w.dtype.type(learning_rate), w.dtype.type(momentum)
    run(lambda start, stop: kernels.optimizers.sgd_momentum(flat_w, flat_g, flat_v, lr, momentum, nesterov,
                                                             start, stop), w.size, grain=MIN_PART_ITEMS)
