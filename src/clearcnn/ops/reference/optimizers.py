"""One optimizer step on one weight, in place: the update rules of clearcnn.optimizers, in NumPy.

Each takes the weight w, its gradient g, the optimizer's slots for it and the rule's scalars.
"""
import numpy as np


def sgd_step(w, g, velocity, learning_rate, momentum, nesterov):
    """velocity = momentum * velocity - lr * g;  w += velocity, or with nesterov w += momentum * velocity - lr * g.
    Without momentum: w -= lr * g (velocity unused)."""
    lr = w.dtype.type(learning_rate)
    if momentum == 0:
        w -= lr * g
        return
    velocity *= momentum
    velocity -= lr * g
    w += momentum * velocity - lr * g if nesterov else velocity


def adam_step(w, g, m, v, learning_rate, beta_1, beta_2, epsilon, t):
    """m += (1 - beta_1) (g - m);  v += (1 - beta_2) (g^2 - v);
    w -= lr * sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v) + epsilon)."""
    alpha = learning_rate * np.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
    m += (1 - beta_1) * (g - m)
    v += (1 - beta_2) * (g * g - v)
    w -= (alpha * m / (np.sqrt(v) + epsilon)).astype(w.dtype, copy=False)


def rmsprop_step(w, g, velocity, buffer, learning_rate, rho, momentum, epsilon):
    """velocity = rho * velocity + (1 - rho) g^2;  step = lr * g / sqrt(velocity + epsilon);
    w -= step, or with momentum: buffer = momentum * buffer + step; w -= buffer."""
    velocity *= rho
    velocity += (1 - rho) * g * g
    step = (learning_rate * g / np.sqrt(velocity + epsilon)).astype(w.dtype, copy=False)
    if momentum > 0:
        buffer *= momentum
        buffer += step
        step = buffer
    w -= step
