"""Optimizer steps compiled with Numba: one pass over each weight, its gradient and its slots, where NumPy's
update rules make several passes and allocate temporaries."""
from . import jit


@jit
def sgd_momentum(w, g, velocity, learning_rate, momentum, nesterov, start, stop):
    """velocity = momentum * velocity - learning_rate * g; w += velocity, or with nesterov
    w += momentum * velocity - learning_rate * g. On the flat arrays' items start to stop."""
    # Slices, then indices from 0: an index that might be negative gets a wrap-around test on every access,
    # and the loop would not vectorise. Two loops, not a test per item.
    w, g, velocity = w[start:stop], g[start:stop], velocity[start:stop]
    if nesterov:
        for i in range(w.size):
            step = learning_rate * g[i]
            velocity[i] = momentum * velocity[i] - step
            w[i] += momentum * velocity[i] - step
    else:
        for i in range(w.size):
            velocity[i] = momentum * velocity[i] - learning_rate * g[i]
            w[i] += velocity[i]
