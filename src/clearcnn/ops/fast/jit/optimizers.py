"""Optimizer steps compiled with Numba: one pass over each weight, its gradient and its slots, where NumPy's
update rules make several passes and allocate temporaries."""
import numpy as np

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


@jit
def adam(w, g, m, v, alpha, one_minus_beta_1, one_minus_beta_2, epsilon, start, stop):
    """m += (1 - beta_1) (g - m);  v += (1 - beta_2) (g^2 - v);  w -= alpha m / (sqrt(v) + epsilon), where alpha
    holds the step's bias corrections. On the flat arrays' items start to stop."""
    w, g, m, v = w[start:stop], g[start:stop], m[start:stop], v[start:stop]
    for i in range(w.size):
        m[i] += one_minus_beta_1 * (g[i] - m[i])
        v[i] += one_minus_beta_2 * (g[i] * g[i] - v[i])
        w[i] -= alpha * m[i] / (np.sqrt(v[i]) + epsilon)


@jit
def rmsprop(w, g, velocity, buffer, learning_rate, rho, momentum, epsilon, start, stop):
    """velocity = rho velocity + (1 - rho) g^2;  step = lr g / sqrt(velocity + epsilon);  w -= step, or with
    momentum buffer = momentum buffer + step; w -= buffer. On the flat arrays' items start to stop."""
    w, g, velocity, buffer = w[start:stop], g[start:stop], velocity[start:stop], buffer[start:stop]
    one_minus_rho = 1 - rho
    if momentum > 0:
        for i in range(w.size):
            velocity[i] = rho * velocity[i] + one_minus_rho * g[i] * g[i]
            buffer[i] = momentum * buffer[i] + learning_rate * g[i] / np.sqrt(velocity[i] + epsilon)
            w[i] -= buffer[i]
    else:
        for i in range(w.size):
            velocity[i] = rho * velocity[i] + one_minus_rho * g[i] * g[i]
            w[i] -= learning_rate * g[i] / np.sqrt(velocity[i] + epsilon)
