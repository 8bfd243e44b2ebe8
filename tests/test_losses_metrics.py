"""Losses against values worked out by hand and by PyTorch, their gradients against central differences,
and the metrics (with "accuracy" choosing its kind from the shapes) against counts done by hand."""
import math

import numpy as np
import pytest

from clearcnn import ClearCNNError
from clearcnn.layers import Dense
from clearcnn.losses import BinaryCrossentropy, CategoricalCrossentropy, MeanSquaredError, SparseCategoricalCrossentropy
from clearcnn.losses import get as get_loss
from clearcnn.metrics import Accuracy, BinaryAccuracy, CategoricalAccuracy, MeanAbsoluteError, SparseCategoricalAccuracy
from clearcnn.metrics import get as get_metric
from clearcnn.models import Sequential

ONE_HOT = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
PROBS = np.array([[0.2, 0.7, 0.1], [0.5, 0.25, 0.25]])


def per_sample(loss, y_true, y_pred):
    values, _ = loss.compute(np.asarray(y_true), np.asarray(y_pred, dtype=np.float64))
    return values


def central_differences(loss, y_true, y_pred, h=1e-6):
    """d(sum of per-sample losses)/d y_pred, one coordinate at a time."""
    y_pred = np.array(y_pred, dtype=np.float64)
    grad = np.zeros_like(y_pred)
    for index in np.ndindex(y_pred.shape):
        plus, minus = y_pred.copy(), y_pred.copy()
        plus[index] += h
        minus[index] -= h
        grad[index] = (per_sample(loss, y_true, plus).sum() - per_sample(loss, y_true, minus).sum()) / (2 * h)
    return grad


# --- values by hand ---------------------------------------------------------------------------------

def test_categorical_crossentropy_by_hand():
    loss = CategoricalCrossentropy()
    np.testing.assert_allclose(per_sample(loss, ONE_HOT, PROBS), [-math.log(0.7), -math.log(0.5)], rtol=1e-12)
    assert loss(ONE_HOT, PROBS) == pytest.approx((-math.log(0.7) - math.log(0.5)) / 2, rel=1e-12)
    assert get_loss("categorical_crossentropy").from_logits is False


def test_categorical_crossentropy_normalises_then_clips_like_keras():
    loss = CategoricalCrossentropy()
    # Keras divides by the row sum first: [1, 2, 1] -> [0.25, 0.5, 0.25]
    assert per_sample(loss, [[0.0, 1.0, 0.0]], [[1.0, 2.0, 1.0]])[0] == pytest.approx(math.log(2), rel=1e-12)
    # probability 0 for the true class is clipped to 1e-7: loss = 7 ln 10
    assert per_sample(loss, [[0.0, 1.0, 0.0]], [[1.0, 0.0, 0.0]])[0] == pytest.approx(16.11809565095832, rel=1e-9)


def test_sparse_categorical_crossentropy_by_hand():
    loss = SparseCategoricalCrossentropy()
    expected = [-math.log(0.7), -math.log(0.5)]
    np.testing.assert_allclose(per_sample(loss, [1, 0], PROBS), expected, rtol=1e-12)
    np.testing.assert_allclose(per_sample(loss, [[1], [0]], PROBS), expected, rtol=1e-12)  # (N, 1) labels
    np.testing.assert_allclose(per_sample(loss, np.array([1.0, 0.0]), PROBS), expected, rtol=1e-12)


def test_crossentropy_from_logits_by_hand():
    logits = np.array([[2.0, -1.0, 0.5], [0.0, 3.0, -2.0]])
    labels = [2, 1]
    expected = [-(z[k] - math.log(sum(math.exp(v) for v in z))) for z, k in zip(logits, labels)]
    np.testing.assert_allclose(per_sample(SparseCategoricalCrossentropy(from_logits=True), labels, logits),
                               expected, rtol=1e-12)
    np.testing.assert_allclose(per_sample(CategoricalCrossentropy(from_logits=True), np.eye(3)[labels], logits),
                               expected, rtol=1e-12)


def test_crossentropy_from_huge_logits_stays_finite():
    logits = np.array([[1000.0, -1000.0, 0.0]])
    values = per_sample(SparseCategoricalCrossentropy(from_logits=True), [1], logits)
    assert values[0] == pytest.approx(2000.0, rel=1e-12)


def test_binary_crossentropy_by_hand():
    loss = BinaryCrossentropy()
    np.testing.assert_allclose(per_sample(loss, [[1.0], [0.0]], [[0.9], [0.2]]),
                               [-math.log(0.9), -math.log(0.8)], rtol=1e-12)
    # several outputs per sample: the mean over the last axis
    value = per_sample(loss, [[1.0, 0.0]], [[0.6, 0.3]])[0]
    assert value == pytest.approx((-math.log(0.6) - math.log(0.7)) / 2, rel=1e-12)
    # labels (N,) for outputs (N, 1) are accepted, as in Keras
    np.testing.assert_allclose(per_sample(loss, [1.0, 0.0], [[0.9], [0.2]]), [-math.log(0.9), -math.log(0.8)],
                               rtol=1e-12)
    # clipped at 1e-7: -log(1e-7)
    assert per_sample(loss, [[1.0]], [[0.0]])[0] == pytest.approx(16.11809565095832, rel=1e-6)


def test_binary_crossentropy_from_logits_by_hand():
    z = np.array([[0.3, -2.0], [40.0, -40.0]])
    y = np.array([[1.0, 0.0], [0.0, 1.0]])
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    row0 = (-math.log(sig(0.3)) - math.log(1 - sig(-2.0))) / 2
    values = per_sample(BinaryCrossentropy(from_logits=True), y, z)
    assert values[0] == pytest.approx(row0, rel=1e-12)
    assert values[1] == pytest.approx(40.0, rel=1e-9)  # log(1 + e^40) ~ 40, computed without overflow


def test_mean_squared_error_by_hand():
    loss = get_loss("mse")
    assert isinstance(loss, MeanSquaredError)
    np.testing.assert_allclose(per_sample(loss, [[1.0, 2.0], [0.0, 0.0]], [[1.5, 0.0], [3.0, -1.0]]),
                               [(0.25 + 4.0) / 2, (9.0 + 1.0) / 2], rtol=1e-12)


def test_sample_weight_reduction_is_sum_over_batch_size():
    loss = SparseCategoricalCrossentropy()
    value = loss([1, 0], PROBS, sample_weight=[2.0, 0.0])
    assert value == pytest.approx(2 * -math.log(0.7) / 2, rel=1e-12)


# --- against torch -------------------------------------------------------------------------------

def test_losses_match_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(6, 4)) * 3
    labels = rng.integers(0, 4, size=6)
    t_logits = torch.tensor(logits)
    ce = F.cross_entropy(t_logits, torch.tensor(labels), reduction="none").numpy()
    np.testing.assert_allclose(per_sample(SparseCategoricalCrossentropy(from_logits=True), labels, logits), ce,
                               rtol=1e-10)
    probs = torch.softmax(t_logits, 1).numpy()
    np.testing.assert_allclose(per_sample(CategoricalCrossentropy(), np.eye(4)[labels], probs), ce, rtol=1e-6)
    targets = rng.integers(0, 2, size=(6, 4)).astype(float)
    bce = F.binary_cross_entropy_with_logits(t_logits, torch.tensor(targets), reduction="none").mean(1).numpy()
    np.testing.assert_allclose(per_sample(BinaryCrossentropy(from_logits=True), targets, logits), bce, rtol=1e-10)
    bce_p = F.binary_cross_entropy(torch.sigmoid(t_logits), torch.tensor(targets), reduction="none").mean(1)
    sig = torch.sigmoid(t_logits).numpy()
    np.testing.assert_allclose(per_sample(BinaryCrossentropy(), targets, sig), bce_p.numpy(), rtol=1e-5)
    mse = F.mse_loss(t_logits, torch.tensor(targets), reduction="none").mean(1).numpy()
    np.testing.assert_allclose(per_sample(MeanSquaredError(), targets, logits), mse, rtol=1e-12)


# --- gradients against central differences ----------------------------------------------------------

RNG = np.random.default_rng(7)
P_UNNORMALISED = RNG.uniform(0.05, 0.9, size=(4, 3))  # rows do not sum to 1: the normalisation is differentiated
LOGITS = RNG.normal(size=(4, 3)) * 2
SPARSE = np.array([0, 2, 1, 2])
BINARY = RNG.integers(0, 2, size=(4, 3)).astype(float)

GRADIENT_CASES = {
    "categorical": (CategoricalCrossentropy(), np.eye(3)[SPARSE], P_UNNORMALISED),
    "categorical_soft_labels": (CategoricalCrossentropy(), np.full((4, 3), 1 / 3), P_UNNORMALISED),
    "categorical_logits": (CategoricalCrossentropy(from_logits=True), np.eye(3)[SPARSE], LOGITS),
    "sparse": (SparseCategoricalCrossentropy(), SPARSE, P_UNNORMALISED),
    "sparse_logits": (SparseCategoricalCrossentropy(from_logits=True), SPARSE, LOGITS),
    "binary": (BinaryCrossentropy(), BINARY, P_UNNORMALISED),
    "binary_logits": (BinaryCrossentropy(from_logits=True), BINARY, LOGITS),
    "mse": (MeanSquaredError(), BINARY, LOGITS),
}


@pytest.mark.parametrize("case", list(GRADIENT_CASES))
def test_loss_gradient_matches_central_differences(case):
    loss, y_true, y_pred = GRADIENT_CASES[case]
    _, grad = loss.compute(np.asarray(y_true), y_pred)
    np.testing.assert_allclose(grad, central_differences(loss, y_true, y_pred), rtol=1e-6, atol=1e-8)


# --- mistakes --------------------------------------------------------------------------------------

def test_loss_mistakes():
    with pytest.raises(ClearCNNError, match=r"\[0, 3\).*3"):
        SparseCategoricalCrossentropy().compute(np.array([0, 3]), PROBS)
    with pytest.raises(ClearCNNError, match="-1"):
        SparseCategoricalCrossentropy().compute(np.array([0, -1]), PROBS)
    with pytest.raises(ClearCNNError, match="0.5"):
        SparseCategoricalCrossentropy().compute(np.array([0, 0.5]), PROBS)
    with pytest.raises(ClearCNNError, match="sparse_categorical_crossentropy"):
        CategoricalCrossentropy().compute(np.array([1, 0]), PROBS)  # integer labels with the one-hot loss
    with pytest.raises(ClearCNNError, match="hinge"):
        get_loss("hinge")


# --- metrics ---------------------------------------------------------------------------------------

def test_accuracy_kinds_by_hand():
    assert BinaryAccuracy().values(np.array([1, 1, 0]), np.array([[0.6], [0.4], [0.8]])).mean() == pytest.approx(1 / 3)
    assert SparseCategoricalAccuracy().values(np.array([1, 2]), PROBS).mean() == pytest.approx(0.5)
    assert CategoricalAccuracy().values(ONE_HOT, PROBS).mean() == pytest.approx(1.0)
    assert MeanAbsoluteError().values(np.array([[1.0, 2.0]]), np.array([[0.0, 4.0]]))[0] == pytest.approx(1.5)


@pytest.mark.parametrize("y_true, y_pred, loss, kind", [
    (np.array([1, 0, 1]), np.array([[0.7], [0.2], [0.4]]), None, BinaryAccuracy),  # one output
    (np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[0.9, 0.6], [0.2, 0.3]]), "binary_crossentropy",
     BinaryAccuracy),  # several sigmoid outputs: the loss decides
    (np.array([2, 0]), np.array([[0.1, 0.2, 0.7], [0.3, 0.6, 0.1]]), None, SparseCategoricalAccuracy),
    (np.array([[2], [0]]), np.array([[0.1, 0.2, 0.7], [0.3, 0.6, 0.1]]), None, SparseCategoricalAccuracy),
    (np.eye(3)[[2, 0]], np.array([[0.1, 0.2, 0.7], [0.3, 0.6, 0.1]]), None, CategoricalAccuracy),
])
def test_accuracy_picks_its_kind_from_the_shapes(y_true, y_pred, loss, kind):
    metric = get_metric("accuracy", get_loss(loss) if loss else None)
    assert isinstance(metric, Accuracy) and metric.name == "accuracy"
    metric.update_state(y_true, y_pred)
    assert isinstance(metric.kind, kind)
    expected = {BinaryAccuracy: {3: 2 / 3, 4: 0.5}, SparseCategoricalAccuracy: {2: 0.5},
                CategoricalAccuracy: {2: 0.5}}[kind]
    assert metric.result() == pytest.approx(expected[y_pred.size if kind is BinaryAccuracy else len(y_pred)])


def test_metric_accumulates_over_batches_weighted_by_samples():
    metric = SparseCategoricalAccuracy()
    metric.update_state(np.array([0, 0, 0]), np.eye(3)[[0, 1, 2]])  # 1 of 3
    metric.update_state(np.array([1]), np.eye(3)[[1]])  # 1 of 1
    assert metric.result() == pytest.approx(2 / 4)
    metric.reset_state()
    assert metric.result() == 0.0


def test_model_accuracy_equals_argmax_count():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(30, 5)), rng.integers(0, 3, size=30)
    for loss, labels in (("sparse_categorical_crossentropy", y), ("categorical_crossentropy", np.eye(3)[y])):
        model = Sequential([Dense(3, activation="softmax", input_shape=(5,))])
        model.compile("sgd", loss, metrics=["accuracy"])
        kernel, bias = model.layers[0].get_weights()
        expected = np.mean((x @ kernel + bias).argmax(1) == y)
        assert model.evaluate(x, labels, verbose=0)[1] == pytest.approx(expected)


def test_unknown_metric_is_a_clear_error():
    with pytest.raises(ClearCNNError, match="f1"):
        get_metric("f1")
