"""Optimizer steps, fast: each rule in one compiled pass over a weight, its gradient and its slots, split over
the engine's threads, where NumPy makes several passes and allocates temporaries. The reference runs where the
compiled kernels do not (no Numba, or arrays not contiguous in one memory order)."""
import numpy as np

from ..reference import optimizers as reference
from . import compiled
from .parallel import MIN_PART_ITEMS, run


def memory_order(*arrays):
    """"C" or "F" when all the arrays are contiguous in that order (ravel(order) is then a view of each), else
    None."""
    for order, flag in (("C", "c_contiguous"), ("F", "f_contiguous")):
        if all(getattr(a.flags, flag) for a in arrays):
            return order
    return None


def _compiled(kernel, w, g, slots, *scalars):
    """kernel(w, g, *slots, *scalars, start, stop) on the flat arrays as they lie in memory, split over the
    threads; False where the compiled kernels cannot run it. Float scalars take the weight's dtype, so float32
    arithmetic stays float32."""
    kernels, order = compiled.kernels(), memory_order(w, *slots)
    if kernels is None or order is None:
        return False
    # views of w and its slots; g is copied only when it lies in the other order
    flat = [w.ravel(order), np.ravel(g, order), *(slot.ravel(order) for slot in slots)]
    scalars = [w.dtype.type(s) if isinstance(s, float) else s for s in scalars]
    step = getattr(kernels.optimizers, kernel)
    run(lambda start, stop: step(*flat, *scalars, start, stop), w.size, grain=MIN_PART_ITEMS)
    return True


def sgd_step(w, g, velocity, learning_rate, momentum, nesterov):
    if momentum == 0 or not _compiled("sgd_momentum", w, g, [velocity], float(learning_rate), float(momentum),
                                      bool(nesterov)):
        reference.sgd_step(w, g, velocity, learning_rate, momentum, nesterov)


def adam_step(w, g, m, v, learning_rate, beta_1, beta_2, epsilon, t):
    alpha = learning_rate * np.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
    if not _compiled("adam", w, g, [m, v], float(alpha), float(1 - beta_1), float(1 - beta_2), float(epsilon)):
        reference.adam_step(w, g, m, v, learning_rate, beta_1, beta_2, epsilon, t)


def rmsprop_step(w, g, velocity, buffer, learning_rate, rho, momentum, epsilon):
    if not _compiled("rmsprop", w, g, [velocity, buffer], float(learning_rate), float(rho), float(momentum),
                     float(epsilon)):
        reference.rmsprop_step(w, g, velocity, buffer, learning_rate, rho, momentum, epsilon)
