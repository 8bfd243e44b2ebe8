"""The fast backend's compiled optimizer steps against the reference's NumPy update rules, step after step: every
optimizer and its options, float32 and float64, weights and gradients in either memory order (the fast backend
keeps Dense's kernel in Fortran order), a weight large enough to be split across the thread pool."""
import numpy as np
import pytest

from clearcnn import ops
from clearcnn.layers.base import Weight
from clearcnn.ops.fast import compiled, parallel
from clearcnn.optimizers import SGD, Adam, RMSprop, schedules

pytestmark = pytest.mark.skipif(not compiled.AVAILABLE, reason="Numba is not installed")

OPTIMIZERS = {
    "sgd-momentum": lambda: SGD(learning_rate=0.05, momentum=0.9),
    "sgd-nesterov": lambda: SGD(learning_rate=0.05, momentum=0.9, nesterov=True),
    "adam": lambda: Adam(learning_rate=0.01),
    "adam-options": lambda: Adam(learning_rate=0.003, beta_1=0.8, beta_2=0.99, epsilon=1e-4),
    "rmsprop": lambda: RMSprop(learning_rate=0.01),
    "rmsprop-momentum": lambda: RMSprop(learning_rate=0.01, rho=0.8, momentum=0.5, epsilon=1e-5),
    # decoupled weight decay and a schedule: the same compiled step, after the shrink, at each step's rate
    "sgd-decay-schedule": lambda: SGD(schedules.ExponentialDecay(0.05, 2, 0.5), momentum=0.9, weight_decay=0.1),
    "adam-decay": lambda: Adam(learning_rate=0.01, weight_decay=0.2),
    "rmsprop-decay-schedule": lambda: RMSprop(schedules.CosineDecay(0.01, 4), momentum=0.5, weight_decay=0.1),
}


@pytest.fixture
def restore_backend():
    before = ops.get_backend()
    yield
    ops.set_backend(before)


@pytest.mark.usefixtures("restore_backend")
@pytest.mark.parametrize("orders", ["CC", "FF", "FC"], ids=["weight-C-grad-C", "weight-F-grad-F", "weight-F-grad-C"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_compiled_step_equals_the_reference_over_many_steps(name, dtype, orders, monkeypatch):
    rng = np.random.default_rng(4)
    start = np.asarray(rng.standard_normal((300, 70)), dtype, order=orders[0])
    grads = [np.asarray(rng.standard_normal(start.shape), dtype, order=orders[1]) for _ in range(6)]
    monkeypatch.setattr(parallel, "MIN_PART_ITEMS", 1000)  # several parts even for this weight
    finals, states = [], []
    for backend in ("reference", "fast"):
        ops.set_backend(backend)
        weight = Weight("w", start.copy(order="K"))
        optimizer = OPTIMIZERS[name]()
        with parallel.engine_threads():
            for g in grads:
                weight.grad = g
                optimizer.apply([weight])
        finals.append(weight.value)
        states.append(optimizer.get_state()[1])
    assert not np.allclose(finals[1], start)
    assert all(final.flags[orders[0] + "_CONTIGUOUS"] for final in finals)  # updated in place
    tolerance = dict(rtol=2e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(finals[1], finals[0], **tolerance)
    for ours, expected in zip(states[1], states[0]):  # momentum, m and v, velocity and buffer
        np.testing.assert_allclose(ours, expected, **tolerance)


@pytest.mark.usefixtures("restore_backend")
@pytest.mark.parametrize("name", ["sgd-decay-schedule", "adam-decay", "rmsprop-decay-schedule"])
def test_weight_decay_and_schedules_keep_the_compiled_step(name, monkeypatch):
    """The fast backend's steps stay compiled with weight decay, a schedule and a constraint: the NumPy rules are
    never reached."""
    from clearcnn import constraints
    from clearcnn.ops.fast import optimizers as fast_optimizers

    def refuse(*args):
        raise AssertionError("the NumPy step ran instead of the compiled one")
    for rule in ("sgd_step", "adam_step", "rmsprop_step"):
        monkeypatch.setattr(fast_optimizers.reference, rule, refuse)
    ops.set_backend("fast")
    weight = Weight("w", np.random.default_rng(1).standard_normal((40, 30)).astype(np.float32),
                    constraint=constraints.MaxNorm(1.0))
    optimizer = OPTIMIZERS[name]()
    for _ in range(3):
        weight.grad = np.ones_like(weight.value)
        optimizer.apply([weight])
    assert np.linalg.norm(weight.value, axis=0).max() <= 1.0 + 1e-6
