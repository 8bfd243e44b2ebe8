"""Optimizers against numbers worked out from Keras 3's update formulas, and Adam against PyTorch.

Single steps use float64 weights and two steps, so that the state (momentum, Adam's m and v) is exercised.
The expected values are written out here, from the formulas in keras/src/optimizers/{sgd,adam,rmsprop}.py,
never taken from clearcnn.
"""
import math

import numpy as np
import pytest

from clearcnn import ClearCNNError
from clearcnn.layers import Conv2D, Dense, Flatten, MaxPooling2D
from clearcnn.layers.base import Weight
from clearcnn.losses import SparseCategoricalCrossentropy
from clearcnn.models import Sequential
from clearcnn.optimizers import SGD, Adam, RMSprop, get

W0 = [1.0, -2.0, 0.5]
G1 = [0.5, -1.0, 2.0]
G2 = [-0.3, 0.2, 1.0]


def two_steps(optimizer, w0=W0, g1=G1, g2=G2):
    """Apply g1 then g2 to a float64 weight; return the value after each step."""
    weight = Weight("w", np.array(w0, dtype=np.float64))
    values = []
    for g in (g1, g2):
        weight.grad = np.array(g, dtype=np.float64)
        optimizer.apply([weight])
        values.append(weight.value.copy())
    return values


def assert_steps(values, expected):
    for step, (got, want) in enumerate(zip(values, expected), 1):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-7, err_msg=f"step {step}")


# --- SGD: literal values worked out by hand ---------------------------------------------------------

@pytest.mark.usefixtures("engine_backend")  # NumPy and compiled updates alike
def test_sgd_plain_two_steps():
    # w1 = w0 - 0.1 g1; w2 = w1 - 0.1 g2
    assert_steps(two_steps(SGD(learning_rate=0.1)), [[0.95, -1.9, 0.3], [0.98, -1.92, 0.2]])


@pytest.mark.usefixtures("engine_backend")  # NumPy and compiled updates alike
def test_sgd_momentum_two_steps():
    # v1 = -0.1 g1 = [-0.05, 0.1, -0.2]; w1 = w0 + v1
    # v2 = 0.9 v1 - 0.1 g2 = [-0.015, 0.07, -0.28]; w2 = w1 + v2
    assert_steps(two_steps(SGD(learning_rate=0.1, momentum=0.9)), [[0.95, -1.9, 0.3], [0.935, -1.83, 0.02]])


@pytest.mark.usefixtures("engine_backend")  # NumPy and compiled updates alike
def test_sgd_nesterov_two_steps():
    # Keras: v = m v - lr g;  w += m v - lr g
    # w1 = w0 + 0.9 [-0.05, 0.1, -0.2] - 0.1 g1 = [0.905, -1.81, 0.12]
    # w2 = w1 + 0.9 [-0.015, 0.07, -0.28] - 0.1 g2 = [0.9215, -1.767, -0.232]
    assert_steps(two_steps(SGD(learning_rate=0.1, momentum=0.9, nesterov=True)),
                 [[0.905, -1.81, 0.12], [0.9215, -1.767, -0.232]])


@pytest.mark.usefixtures("engine_backend")  # NumPy and compiled updates alike
def test_sgd_defaults_are_keras():
    opt = SGD()
    assert (opt.learning_rate, opt.momentum, opt.nesterov) == (0.01, 0.0, False)
    # and they are the ones used: w - 0.01 g
    assert_steps(two_steps(SGD()), [[0.995, -1.99, 0.48], [0.998, -1.992, 0.47]])
    assert isinstance(get("sgd"), SGD) and get("sgd").learning_rate == 0.01


# --- Adam and RMSprop: the Keras formulas written out per element ---------------------------------

def keras_adam(w0, grads, lr, beta_1, beta_2, epsilon):
    out, w = [], list(w0)
    m, v = [0.0] * len(w), [0.0] * len(w)
    for t, g in enumerate(grads, 1):
        alpha = lr * math.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
        for i, gi in enumerate(g):
            m[i] = m[i] + (gi - m[i]) * (1 - beta_1)
            v[i] = v[i] + (gi * gi - v[i]) * (1 - beta_2)
            w[i] = w[i] - alpha * m[i] / (math.sqrt(v[i]) + epsilon)
        out.append(list(w))
    return out


def keras_rmsprop(w0, grads, lr, rho, momentum, epsilon):
    out, w = [], list(w0)
    v, buf = [0.0] * len(w), [0.0] * len(w)
    for g in grads:
        for i, gi in enumerate(g):
            v[i] = rho * v[i] + (1 - rho) * gi * gi
            increment = lr * gi / math.sqrt(v[i] + epsilon)
            if momentum > 0:
                buf[i] = momentum * buf[i] + increment
                w[i] -= buf[i]
            else:
                w[i] -= increment
        out.append(list(w))
    return out


def test_adam_first_step_is_lr_times_sign():
    # With m = (1-b1) g and v = (1-b2) g^2 the first step is lr * g / (|g| + eps / sqrt(1 - b2)): ~lr * sign(g).
    w1 = two_steps(Adam(learning_rate=0.1))[0]
    expected = [w - 0.1 * g / (abs(g) + 1e-7 / math.sqrt(0.001)) for w, g in zip(W0, G1)]
    np.testing.assert_allclose(w1, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(w1, [0.9, -1.9, 0.4], rtol=0, atol=1e-5)


@pytest.mark.parametrize("settings", [dict(learning_rate=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-7),
                                      dict(learning_rate=0.05, beta_1=0.5, beta_2=0.8, epsilon=0.1)])
def test_adam_two_steps(settings):
    expected = keras_adam(W0, [G1, G2], settings["learning_rate"], settings["beta_1"], settings["beta_2"],
                          settings["epsilon"])
    assert_steps(two_steps(Adam(**settings)), expected)


def test_adam_defaults_are_keras():
    opt = Adam()
    assert (opt.learning_rate, opt.beta_1, opt.beta_2, opt.epsilon) == (0.001, 0.9, 0.999, 1e-7)
    assert_steps(two_steps(Adam()), keras_adam(W0, [G1, G2], 0.001, 0.9, 0.999, 1e-7))


@pytest.mark.parametrize("momentum", [0.0, 0.5])
def test_rmsprop_two_steps(momentum):
    expected = keras_rmsprop(W0, [G1, G2], 0.01, 0.9, momentum, 1e-7)
    assert_steps(two_steps(RMSprop(learning_rate=0.01, momentum=momentum)), expected)


def test_rmsprop_epsilon_inside_the_square_root():
    # A zero gradient history and a tiny gradient: sqrt(v + eps) differs from sqrt(v) + eps by orders.
    (w1, _) = two_steps(RMSprop(learning_rate=0.01, epsilon=1e-2), g1=[1e-3, 0, 0], g2=[0, 0, 0])
    v = 0.1 * 1e-6
    assert w1[0] == pytest.approx(1.0 - 0.01 * 1e-3 / math.sqrt(v + 1e-2), abs=1e-12)


def test_rmsprop_defaults_are_keras():
    opt = RMSprop()
    assert (opt.learning_rate, opt.rho, opt.momentum, opt.epsilon) == (0.001, 0.9, 0.0, 1e-7)
    assert_steps(two_steps(RMSprop()), keras_rmsprop(W0, [G1, G2], 0.001, 0.9, 0.0, 1e-7))
    assert isinstance(get("rmsprop"), RMSprop) and isinstance(get("adam"), Adam)


def test_state_is_kept_per_weight():
    # Two weights stepped together must match each stepped alone (state is not shared or reset).
    a, b = Weight("a", np.array(W0)), Weight("b", np.array([3.0, 0.0, -1.0]))
    opt = Adam(learning_rate=0.1)
    for ga, gb in ((G1, [1.0, 1.0, 1.0]), (G2, [-2.0, 0.5, 0.0])):
        a.grad, b.grad = np.array(ga), np.array(gb)
        opt.apply([a, b])
    np.testing.assert_allclose(a.value, keras_adam(W0, [G1, G2], 0.1, 0.9, 0.999, 1e-7)[-1], atol=1e-12)
    np.testing.assert_allclose(b.value, keras_adam([3.0, 0.0, -1.0], [[1.0, 1.0, 1.0], [-2.0, 0.5, 0.0]],
                                                   0.1, 0.9, 0.999, 1e-7)[-1], atol=1e-12)
    assert opt.iterations == 2


def test_apply_gradients_pairs():
    weight = Weight("w", np.array(W0))
    SGD(learning_rate=0.1).apply_gradients([(np.array(G1), weight)])
    np.testing.assert_allclose(weight.value, [0.95, -1.9, 0.3], atol=1e-12)


def test_bad_optimizer_arguments():
    with pytest.raises(ClearCNNError, match="learning_rate"):
        SGD(learning_rate=-1)
    with pytest.raises(ClearCNNError, match="momentum"):
        SGD(momentum=1.5)
    with pytest.raises(ClearCNNError, match="nadam"):
        get("nadam")


def test_freezing_a_layer_between_steps_keeps_each_weight_its_own_state():
    """Train with the first layer frozen, unfreeze it, train again: the optimizer must not hand the
    second layer's Adam state to the first layer (it used to pair state and weights by position)."""
    model = Sequential([Dense(4, input_shape=(3,), dtype="float64"), Dense(2, dtype="float64")])
    model.compile(Adam(learning_rate=0.1), "mse")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    first_kernel = model.layers[0].kernel.numpy()
    second_kernel = model.layers[1].kernel.numpy()
    model.layers[0].trainable = False
    model.train_on_batch(x, y)
    assert np.array_equal(model.layers[0].kernel.value, first_kernel)
    g1 = model.layers[1].kernel.grad.copy()
    model.layers[0].trainable = True
    model.train_on_batch(x, y)
    g2 = model.layers[1].kernel.grad.copy()
    # the first layer starts from fresh state at the optimizer's step t = 2 (Keras's bias correction uses
    # the global step): change = -lr sqrt(1 - b2^2) / (1 - b1^2) * (1 - b1) g / (sqrt((1 - b2) g^2) + eps)
    g = model.layers[0].kernel.grad
    expected_move = -0.1 * math.sqrt(1 - 0.999 ** 2) / (1 - 0.9 ** 2) * 0.1 * g / (np.sqrt(0.001 * g * g) + 1e-7)
    np.testing.assert_allclose(model.layers[0].kernel.value - first_kernel, expected_move, rtol=0, atol=1e-10)
    # the second layer continues its own state: Adam steps 1 and 2 from g1 then g2
    expected = keras_adam(second_kernel.ravel(), [g1.ravel(), g2.ravel()], 0.1, 0.9, 0.999, 1e-7)[-1]
    np.testing.assert_allclose(model.layers[1].kernel.value.ravel(), expected, rtol=0, atol=1e-10)


# --- 50 Adam steps against torch.optim.Adam ---------------------------------------------------------

@pytest.mark.parametrize("epsilon", [1e-7, 1e-3])
def test_adam_matches_torch_for_50_steps(epsilon):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(42)
    x = rng.normal(size=(40, 8, 8, 2))
    y = rng.integers(0, 5, size=40)

    model = Sequential([Conv2D(4, 3, activation="relu", input_shape=(8, 8, 2), dtype="float64"),
                        MaxPooling2D(2, dtype="float64"), Flatten(dtype="float64"), Dense(5, dtype="float64")])
    model.compile(Adam(learning_rate=0.01, epsilon=epsilon), SparseCategoricalCrossentropy(from_logits=True))

    conv = torch.nn.Conv2d(2, 4, 3, dtype=torch.float64)
    dense = torch.nn.Linear(3 * 3 * 4, 5, dtype=torch.float64)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor(model.layers[0].kernel.value.transpose(3, 2, 0, 1)))
        conv.bias.copy_(torch.tensor(model.layers[0].bias.value))
        dense.weight.copy_(torch.tensor(model.layers[3].kernel.value.T))
        dense.bias.copy_(torch.tensor(model.layers[3].bias.value))

    def torch_forward(xb):
        h = torch.relu(conv(torch.tensor(xb.transpose(0, 3, 1, 2))))
        h = torch.nn.functional.max_pool2d(h, 2)
        return dense(h.permute(0, 2, 3, 1).flatten(1))  # Keras flattens (h, w, c)

    params = [conv.weight, conv.bias, dense.weight, dense.bias]
    opt = torch.optim.Adam(params, lr=0.01, betas=(0.9, 0.999), eps=epsilon)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: threads only add overhead
    try:
        for t in range(1, 51):
            index = rng.choice(40, size=8, replace=False)
            ours = model.train_on_batch(x[index], y[index])
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(torch_forward(x[index]), torch.tensor(y[index]))
            loss.backward()
            opt.param_groups[0]["eps"] = epsilon / math.sqrt(1 - 0.999 ** t)  # Keras's epsilon placement
            opt.step()
            assert ours == pytest.approx(loss.item(), abs=1e-5), f"loss at step {t}"
    finally:
        torch.set_num_threads(threads)

    np.testing.assert_allclose(model.layers[0].kernel.value, conv.weight.detach().numpy().transpose(2, 3, 1, 0),
                               rtol=0, atol=1e-5)
    np.testing.assert_allclose(model.layers[0].bias.value, conv.bias.detach().numpy(), rtol=0, atol=1e-5)
    np.testing.assert_allclose(model.layers[3].kernel.value, dense.weight.detach().numpy().T, rtol=0, atol=1e-5)
    np.testing.assert_allclose(model.layers[3].bias.value, dense.bias.detach().numpy(), rtol=0, atol=1e-5)
    assert model.optimizer.iterations == 50
