"""Regularizers, constraints, weight decay and learning-rate schedules in training, held to PyTorch and Keras 3.

L2(l) on every weight is PyTorch SGD's coupled weight_decay=2l; the optimizers' decoupled weight_decay is
torch.optim.AdamW's; a model with every regularizer and constraint trains like the same model in Keras (losses
reported by train_on_batch, then weights)."""
import math
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import pytest

from clearcnn import ClearCNNError, constraints, regularizers
from clearcnn.layers import Conv2D, Dense, Flatten, MaxPooling2D
from clearcnn.losses import SparseCategoricalCrossentropy
from clearcnn.models import Sequential
from clearcnn.optimizers import SGD, Adam, AdamW, RMSprop, schedules

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy:DeprecationWarning")


# --- the penalties and projections on their own ----------------------------------------------------

def test_penalties_and_their_gradients():
    x = np.array([[0.5, -2.0], [0.0, 3.0]])
    assert regularizers.L1(0.1)(x) == pytest.approx(0.1 * 5.5)
    assert regularizers.L2(0.1)(x) == pytest.approx(0.1 * 13.25)
    assert regularizers.L1L2(0.1, 0.2)(x) == pytest.approx(0.1 * 5.5 + 0.2 * 13.25)
    for regularizer in (regularizers.L1(0.3), regularizers.L2(0.2), regularizers.L1L2(0.1, 0.4)):
        x = np.random.default_rng(1).normal(size=(3, 4))  # no zeros: |x| is differentiable everywhere here
        numerical = np.zeros_like(x)
        for index in np.ndindex(x.shape):
            step = np.zeros_like(x)
            step[index] = 1e-6
            numerical[index] = (regularizer(x + step) - regularizer(x - step)) / 2e-6
        np.testing.assert_allclose(regularizer.gradient(x), numerical, rtol=1e-6, atol=1e-8)


def test_names_and_keras_defaults():
    assert regularizers.get("l1").get_config() == {"l1": 0.01}
    assert regularizers.get("l2").get_config() == {"l2": 0.01}
    assert regularizers.get("l1_l2").get_config() == {"l1": 0.01, "l2": 0.01}
    assert regularizers.L1L2().get_config() == {"l1": 0.0, "l2": 0.0}
    assert regularizers.get({"class_name": "L2", "config": {"l2": 0.5}}).l2 == 0.5
    assert constraints.get("max_norm").get_config() == {"max_value": 2.0, "axis": 0}
    assert constraints.get("MinMaxNorm").get_config() == {"min_value": 0.0, "max_value": 1.0, "rate": 1.0, "axis": 0}
    assert constraints.get("unit_norm").get_config() == {"axis": 0}


@pytest.mark.parametrize("make, words", [
    (lambda: regularizers.L2(-1), ["L2", "`l2`", "l2=-1"]),
    (lambda: regularizers.get("l3"), ["`kernel_regularizer`", "'l3'", "l1_l2"]),
    (lambda: constraints.MaxNorm(axis="rows"), ["MaxNorm", "`axis`", "'rows'"]),
    (lambda: constraints.MinMaxNorm(min_value=2, max_value=1), ["`max_value`", "max_value=1"]),
    (lambda: Dense(3, kernel_constraint="clip"), ["`kernel_constraint`", "'clip'", "MaxNorm"]),
    (lambda: Adam(weight_decay=-0.1), ["Adam", "`weight_decay`", "weight_decay=-0.1"]),
    (lambda: SGD(clipnorm=1.0), ["SGD", "`clipnorm`", "clipnorm=1.0"]),
    (lambda: schedules.PiecewiseConstantDecay([10], [0.1]), ["`values`", "[0.1]"]),
    (lambda: schedules.ExponentialDecay(0.1, 0, 0.9), ["`decay_steps`", "decay_steps=0"]),
])
def test_bad_arguments_are_named(make, words):
    with pytest.raises(ClearCNNError) as error:
        make()
    for word in words:
        assert word in str(error.value)


def keras_or_skip():
    return pytest.importorskip("keras")


def test_constraints_equal_keras():
    keras = keras_or_skip()
    w = np.random.default_rng(3).normal(size=(3, 3, 4, 5)).astype(np.float32) * 0.7
    for ours, theirs in [(constraints.MaxNorm(1.5, axis=[0, 1, 2]), keras.constraints.MaxNorm(1.5, axis=[0, 1, 2])),
                         (constraints.MaxNorm(0.5), keras.constraints.MaxNorm(0.5)),
                         (constraints.UnitNorm(axis=-1), keras.constraints.UnitNorm(axis=-1)),
                         (constraints.MinMaxNorm(1.0, 2.0, 0.7, 3), keras.constraints.MinMaxNorm(1.0, 2.0, 0.7, 3)),
                         (constraints.NonNeg(), keras.constraints.NonNeg())]:
        np.testing.assert_allclose(ours(w), keras.ops.convert_to_numpy(theirs(w)), rtol=0, atol=1e-6)
        assert ours.get_config() == theirs.get_config()
    for ours, theirs in [(regularizers.L1(0.2), keras.regularizers.L1(0.2)), (regularizers.L2(), keras.regularizers.L2()),
                         (regularizers.L1L2(0.1, 0.3), keras.regularizers.L1L2(0.1, 0.3))]:
        assert ours(w) == pytest.approx(float(keras.ops.convert_to_numpy(theirs(w))), rel=1e-5)
        assert ours.get_config() == pytest.approx(theirs.get_config())


# --- training against PyTorch -------------------------------------------------------------------------

def torch_twin(torch, model):
    """A PyTorch copy of conv(4, 3, relu) -> maxpool 2 -> flatten -> dense(5), with the model's weights."""
    conv = torch.nn.Conv2d(2, 4, 3, dtype=torch.float64)
    dense = torch.nn.Linear(3 * 3 * 4, 5, dtype=torch.float64)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor(model.layers[0].kernel.value.transpose(3, 2, 0, 1)))
        conv.bias.copy_(torch.tensor(model.layers[0].bias.value))
        dense.weight.copy_(torch.tensor(np.array(model.layers[3].kernel.value).T))
        dense.bias.copy_(torch.tensor(model.layers[3].bias.value))

    def forward(xb):
        h = torch.nn.functional.max_pool2d(torch.relu(conv(torch.tensor(xb.transpose(0, 3, 1, 2)))), 2)
        return dense(h.permute(0, 2, 3, 1).flatten(1))
    return forward, [conv.weight, conv.bias, dense.weight, dense.bias]


def small_model(**regularization):
    return Sequential([Conv2D(4, 3, activation="relu", input_shape=(8, 8, 2), dtype="float64", **regularization),
                       MaxPooling2D(2, dtype="float64"), Flatten(dtype="float64"),
                       Dense(5, dtype="float64", **regularization)])


def assert_same_weights(model, params):
    conv_w, conv_b, dense_w, dense_b = (p.detach().numpy() for p in params)
    for got, want in [(model.layers[0].kernel.value, conv_w.transpose(2, 3, 1, 0)), (model.layers[0].bias.value, conv_b),
                      (model.layers[3].kernel.value, dense_w.T), (model.layers[3].bias.value, dense_b)]:
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-8)


def data(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(16, 8, 8, 2)), rng.integers(0, 5, size=16)


@pytest.mark.usefixtures("engine_backend")
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_l2_everywhere_is_torch_sgd_coupled_weight_decay(momentum):
    torch = pytest.importorskip("torch")
    l2 = 0.05
    model = small_model(kernel_regularizer=regularizers.L2(l2), bias_regularizer=regularizers.L2(l2))
    model.compile(SGD(0.1, momentum=momentum), SparseCategoricalCrossentropy(from_logits=True))
    forward, params = torch_twin(torch, model)
    opt = torch.optim.SGD(params, lr=0.1, momentum=momentum, weight_decay=2 * l2)
    x, y = data()
    for step in range(4):
        xb, yb = x[4 * step:4 * step + 4], y[4 * step:4 * step + 4]
        ours = model.train_on_batch(xb, yb)
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(forward(xb), torch.tensor(yb))
        penalty = l2 * sum((p * p).sum() for p in params)
        assert ours == pytest.approx((loss + penalty).item(), abs=1e-10), f"loss at step {step}"
        loss.backward()
        opt.step()
    assert_same_weights(model, params)


@pytest.mark.usefixtures("engine_backend")
def test_decoupled_weight_decay_is_torch_adamw():
    torch = pytest.importorskip("torch")
    model = small_model()
    model.compile(Adam(0.01, weight_decay=0.1, epsilon=1e-7), SparseCategoricalCrossentropy(from_logits=True))
    forward, params = torch_twin(torch, model)
    opt = torch.optim.AdamW(params, lr=0.01, weight_decay=0.1)
    x, y = data(1)
    for t in range(1, 5):
        xb, yb = x[4 * (t - 1):4 * t], y[4 * (t - 1):4 * t]
        model.train_on_batch(xb, yb)
        opt.zero_grad()
        torch.nn.functional.cross_entropy(forward(xb), torch.tensor(yb)).backward()
        opt.param_groups[0]["eps"] = 1e-7 / math.sqrt(1 - 0.999 ** t)  # Keras's epsilon placement
        opt.step()
    assert_same_weights(model, params)
    assert AdamW().weight_decay == 0.004 and AdamW(weight_decay=0.1).get_config()["weight_decay"] == 0.1


@pytest.mark.usefixtures("engine_backend")
@pytest.mark.parametrize("make", [lambda: SGD(0.05, momentum=0.9, weight_decay=0.2),
                                  lambda: RMSprop(0.01, momentum=0.5, weight_decay=0.2)])
def test_weight_decay_on_sgd_and_rmsprop_is_a_shrink_before_the_step(make):
    """Keras's rule: w -= lr * wd * w, then the plain update; the same as the optimizer without weight decay run on
    weights shrunk first."""
    decayed, plain = small_model(), small_model()
    plain.set_weights(decayed.get_weights())
    decayed.compile(make(), SparseCategoricalCrossentropy(from_logits=True))
    optimizer = make()
    optimizer.weight_decay, lr = None, optimizer.learning_rate
    plain.compile(optimizer, SparseCategoricalCrossentropy(from_logits=True))
    x, y = data(2)
    for step in range(3):
        xb, yb = x[4 * step:4 * step + 4], y[4 * step:4 * step + 4]
        decayed.train_on_batch(xb, yb)
        # the plain model's gradients at its unshrunk weights, then shrink, then step: as Keras orders it
        _, _, grad = plain._loss_and_gradient(plain.check_input(xb), yb, training=True)
        plain.backward(grad / len(xb))
        for weight in plain.trainable_weights:
            weight.value *= 1 - lr * 0.2
        plain.optimizer.apply(plain.trainable_weights)
    for a, b in zip(decayed.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


def test_schedules_set_the_rate_of_each_step():
    exponential = schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)
    assert [exponential(s) for s in (0, 1, 2, 4)] == pytest.approx([0.1, 0.1 * 0.5 ** 0.5, 0.05, 0.025])
    stairs = schedules.ExponentialDecay(0.1, 2, 0.5, staircase=True)
    assert [stairs(s) for s in (0, 1, 2, 3)] == pytest.approx([0.1, 0.1, 0.05, 0.05])
    piecewise = schedules.PiecewiseConstantDecay([2, 4], [0.3, 0.2, 0.1])
    assert [piecewise(s) for s in range(7)] == [0.3, 0.3, 0.3, 0.2, 0.2, 0.1, 0.1]
    cosine = schedules.CosineDecay(0.2, decay_steps=4, alpha=0.1)
    assert [cosine(s) for s in (0, 2, 4, 8)] == pytest.approx([0.2, 0.2 * (0.9 * 0.5 + 0.1), 0.02, 0.02])
    warm = schedules.CosineDecay(0.0, 4, warmup_target=0.1, warmup_steps=2)
    assert [warm(s) for s in (0, 1, 2, 6)] == pytest.approx([0.0, 0.05, 0.1, 0.0])
    # in an optimizer: plain SGD steps of lr(0), lr(1), ... with a constant gradient
    from clearcnn.layers.base import Weight
    weight = Weight("w", np.zeros(1))
    optimizer = SGD(learning_rate=piecewise)
    for _ in range(6):
        weight.grad = np.ones(1)
        optimizer.apply([weight])
    assert weight.value[0] == pytest.approx(-(0.3 * 3 + 0.2 * 2 + 0.1))


def test_schedules_equal_keras():
    keras = keras_or_skip()
    S = keras.optimizers.schedules
    pairs = [(schedules.ExponentialDecay(0.1, 3, 0.7, True), S.ExponentialDecay(0.1, 3, 0.7, True)),
             (schedules.PiecewiseConstantDecay([3, 7], [0.1, 0.05, 0.01]), S.PiecewiseConstantDecay([3, 7], [0.1, 0.05, 0.01])),
             (schedules.CosineDecay(0.1, 10, 0.05, warmup_target=0.2, warmup_steps=3),
              S.CosineDecay(0.1, 10, 0.05, warmup_target=0.2, warmup_steps=3))]
    for ours, theirs in pairs:
        for step in range(15):
            assert ours(step) == pytest.approx(float(keras.ops.convert_to_numpy(theirs(step))), rel=1e-6)
        assert type(ours).from_config(theirs.get_config()).get_config() == ours.get_config()


# --- training against Keras: every regularizer and constraint at once -----------------------------

def regularized_layers(module, dtype=None):
    R, C, L = module.regularizers, module.constraints, module.layers
    extra = {} if dtype is None else {"dtype": dtype}
    return [L.Conv2D(4, 3, activation="relu", kernel_regularizer=R.L1L2(0.01, 0.02), bias_regularizer="l2",
                     activity_regularizer=R.L2(0.001), kernel_constraint=C.MaxNorm(0.5, axis=[0, 1, 2]),
                     bias_constraint=C.NonNeg(), **extra),
            L.Flatten(**extra),
            L.Dense(3, activation="softmax", kernel_regularizer=R.L1(0.01), activity_regularizer="l1",
                    kernel_constraint=C.UnitNorm(), bias_constraint=C.MinMaxNorm(0.1, 0.5, rate=0.5), **extra)]


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_regularized_training_equals_keras(optimizer):
    keras = keras_or_skip()
    import clearcnn
    rng = np.random.default_rng(5)
    x = rng.normal(size=(12, 6, 6, 2)).astype(np.float32)
    y = rng.integers(0, 3, size=12)
    theirs = keras.Sequential([keras.Input((6, 6, 2)), *regularized_layers(keras)])
    ours = Sequential([clearcnn.layers.InputLayer((6, 6, 2)), *regularized_layers(clearcnn)])
    ours.set_weights(theirs.get_weights())
    settings = {"sgd": ("SGD", dict(learning_rate=0.1, momentum=0.9, weight_decay=0.05)),
                "adam": ("Adam", dict(learning_rate=0.01, weight_decay=0.1))}[optimizer]
    theirs.compile(getattr(keras.optimizers, settings[0])(**settings[1]), "sparse_categorical_crossentropy")
    ours.compile(getattr(clearcnn.optimizers, settings[0])(**settings[1]), "sparse_categorical_crossentropy")
    for step in range(3):
        xb, yb = x[4 * step:4 * step + 4], y[4 * step:4 * step + 4]
        keras_loss = float(theirs.train_on_batch(xb, yb))
        assert ours.train_on_batch(xb, yb) == pytest.approx(keras_loss, abs=1e-5), f"loss at step {step}"
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, keras.ops.convert_to_numpy(b), rtol=0, atol=1e-5)
    assert ours.evaluate(x, y, verbose=0) == pytest.approx(float(theirs.evaluate(x, y, verbose=0)), abs=1e-5)


def test_regularized_layers_round_trip_through_keras_files(tmp_path):
    keras = keras_or_skip()
    import clearcnn
    theirs = keras.Sequential([keras.Input((6, 6, 2)), *regularized_layers(keras)])
    theirs.save(tmp_path / "k.keras")
    ours = clearcnn.models.load_model(tmp_path / "k.keras")
    settings = ["kernel_regularizer", "bias_regularizer", "activity_regularizer", "kernel_constraint",
                "bias_constraint"]

    def described(model):
        return [[(type(getattr(layer, s)).__name__, getattr(layer, s).get_config()) if getattr(layer, s) else None
                 for s in settings] for layer in model.layers if hasattr(layer, "kernel_constraint")]
    assert described(ours) == described(theirs)
    ours.save(tmp_path / "c.keras")
    assert described(keras.saving.load_model(tmp_path / "c.keras")) == described(theirs)
    ours.save(tmp_path / "c.clearcnn")
    assert described(clearcnn.models.load_model(tmp_path / "c.clearcnn")) == described(theirs)
