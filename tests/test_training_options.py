"""Training options, held to the installed Keras 3 where it can run the same thing: class_weight and sample_weight
(in fit, evaluate, train_on_batch, test_on_batch, validation), the ReduceLROnPlateau and LearningRateScheduler
callbacks (driven through the same sequence of logged values as Keras's own), a learning rate changed between
epochs, and the error for predict on one image without its batch axis."""
import os

# Before Keras is imported anywhere: the torch backend (installed for the oracle tests) unless one is chosen.
os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import pytest

from clearcnn import ClearCNNError
from clearcnn.callbacks import LearningRateScheduler, ReduceLROnPlateau
from clearcnn.layers import Conv2D, Dense, GlobalAveragePooling2D
from clearcnn.models import Sequential
from clearcnn.optimizers import SGD

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy:DeprecationWarning")

CLASS_WEIGHT = {0: 1.0, 1: 3.0, 2: 0.25}


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras", reason="Keras is not installed")


def data(n=12, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 4)).astype("float32"), rng.integers(0, 3, n)


def pair(keras, learning_rate=0.1):
    """The same softmax classifier in clearcnn and Keras, with the same weights, compiled with plain SGD."""
    mine = Sequential([Dense(5, activation="tanh", input_shape=(4,)), Dense(3, activation="softmax")])
    theirs = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, activation="tanh"),
                               keras.layers.Dense(3, activation="softmax")])
    theirs.set_weights(mine.get_weights())
    mine.compile(SGD(learning_rate), "sparse_categorical_crossentropy", metrics=["accuracy"])
    theirs.compile(keras.optimizers.SGD(learning_rate), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return mine, theirs


def assert_same_weights(mine, theirs):
    for a, b in zip(mine.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=1e-6)


# --- class_weight and sample_weight -------------------------------------------------------------------------------

@pytest.mark.parametrize("weighting", ["class_weight", "sample_weight"])
def test_fit_with_weights_matches_keras(keras, weighting):
    x, y = data()
    mine, theirs = pair(keras)
    weights = {"class_weight": CLASS_WEIGHT} if weighting == "class_weight" else \
        {"sample_weight": np.random.default_rng(1).uniform(0, 2, len(x))}
    history = mine.fit(x, y, batch_size=5, epochs=2, shuffle=False, verbose=0, **weights)
    expected = theirs.fit(x, y, batch_size=5, epochs=2, shuffle=False, verbose=0, **weights)
    assert_same_weights(mine, theirs)
    np.testing.assert_allclose(history.history["loss"], expected.history["loss"], rtol=1e-5)
    np.testing.assert_allclose(history.history["accuracy"], expected.history["accuracy"])  # unweighted


def test_evaluate_and_batch_methods_with_sample_weight_match_keras(keras):
    x, y = data(seed=2)
    mine, theirs = pair(keras)
    w = np.random.default_rng(3).uniform(0, 3, len(x))
    np.testing.assert_allclose(mine.evaluate(x, y, sample_weight=w, batch_size=5, verbose=0),
                               theirs.evaluate(x, y, sample_weight=w, batch_size=5, verbose=0), rtol=1e-5)
    np.testing.assert_allclose(mine.test_on_batch(x, y, sample_weight=w), theirs.test_on_batch(x, y, sample_weight=w),
                               rtol=1e-5)
    np.testing.assert_allclose(mine.train_on_batch(x, y, class_weight=CLASS_WEIGHT),
                               theirs.train_on_batch(x, y, class_weight=CLASS_WEIGHT), rtol=1e-5)
    assert_same_weights(mine, theirs)
    np.testing.assert_allclose(mine.train_on_batch(x, y, sample_weight=w), theirs.train_on_batch(x, y, sample_weight=w),
                               rtol=1e-5)
    assert_same_weights(mine, theirs)


@pytest.mark.parametrize("labels", ["sparse", "one-hot"])
def test_class_weight_is_the_manually_weighted_loss_and_its_gradient(labels):
    """Each sample's loss times its class's weight, summed and divided by the batch size; the step is that loss's."""
    x, y = data(seed=4)
    targets = y if labels == "sparse" else np.eye(3)[y]
    loss = "sparse_categorical_crossentropy" if labels == "sparse" else "categorical_crossentropy"
    models = []
    for _ in range(2):
        model = Sequential([Dense(3, activation="softmax", input_shape=(4,), kernel_initializer="zeros")])
        model.compile(SGD(0.5), loss)
        models.append(model)
    weighted, manual = models
    probabilities = weighted.predict(x, verbose=0)
    per_sample = -np.log(probabilities[np.arange(len(y)), y])
    w = np.array([CLASS_WEIGHT[c] for c in y])
    assert weighted.train_on_batch(x, targets, class_weight=CLASS_WEIGHT) == pytest.approx((per_sample * w).mean(),
                                                                                           rel=1e-6)
    # The same step by hand: the gradient of mean(w * loss) for softmax cross-entropy is w * (p - y) per sample.
    delta = w[:, None] * (probabilities - np.eye(3)[y]) / len(y)
    kernel = manual.layers[0].kernel.value - 0.5 * x.T @ delta
    np.testing.assert_allclose(weighted.layers[0].kernel.value, kernel, rtol=1e-5, atol=1e-7)
    # Classes left out of class_weight weigh 1; all weights 1 is no weighting at all.
    manual.train_on_batch(x, targets, class_weight={5: 9.0})
    manual2 = Sequential([Dense(3, activation="softmax", input_shape=(4,), kernel_initializer="zeros")])
    manual2.compile(SGD(0.5), loss)
    manual2.train_on_batch(x, targets)
    np.testing.assert_array_equal(manual.get_weights()[0], manual2.get_weights()[0])


def test_validation_keeps_its_sample_weights(keras):
    x, y = data(n=15, seed=5)
    w = np.random.default_rng(6).uniform(0.1, 2, len(x))
    mine, theirs = pair(keras)
    history = mine.fit(x, y, sample_weight=w, validation_split=0.2, batch_size=4, shuffle=False, verbose=0)
    expected = theirs.fit(x, y, sample_weight=w, validation_split=0.2, batch_size=4, shuffle=False, verbose=0)
    np.testing.assert_allclose(history.history["val_loss"], expected.history["val_loss"], rtol=1e-5)
    mine, theirs = pair(keras)
    xv, yv = data(n=6, seed=7)
    history = mine.fit(x, y, validation_data=(xv, yv, w[:6]), batch_size=4, shuffle=False, verbose=0)
    expected = theirs.fit(x, y, validation_data=(xv, yv, w[:6]), batch_size=4, shuffle=False, verbose=0)
    np.testing.assert_allclose(history.history["val_loss"], expected.history["val_loss"], rtol=1e-5)


def test_datasets_may_carry_sample_weights_and_take_class_weights():
    x, y = data(seed=8)
    w = np.random.default_rng(9).uniform(0, 2, len(x))
    losses = []
    for batches, kwargs in (([(x[:6], y[:6], w[:6]), (x[6:], y[6:], w[6:])], {}), (None, {"sample_weight": w})):
        model = Sequential([Dense(3, activation="softmax", input_shape=(4,), kernel_initializer="ones")])
        model.compile(SGD(0.1), "sparse_categorical_crossentropy")
        history = model.fit(iter(batches) if batches else x, None if batches else y, batch_size=6, shuffle=False,
                            verbose=0, **kwargs)
        losses.append((history.history["loss"], model.get_weights()[0]))
    np.testing.assert_allclose(losses[0][0], losses[1][0], rtol=1e-6)
    np.testing.assert_allclose(losses[0][1], losses[1][1], rtol=1e-6)
    model = Sequential([Dense(3, activation="softmax", input_shape=(4,))])
    model.compile(SGD(0.1), "sparse_categorical_crossentropy")
    model.fit(iter([(x, y)]), class_weight=CLASS_WEIGHT, verbose=0)
    with pytest.raises(ClearCNNError, match="class_weight and sample_weight"):
        model.fit(iter([(x, y, w)]), class_weight=CLASS_WEIGHT, verbose=0)


BAD_WEIGHTS = [({"class_weight": [1, 2, 3]}, "`class_weight`"), ({"class_weight": {0: -1.0}}, "`class_weight`"),
               ({"class_weight": {"cat": 1.0}}, "`class_weight`"), ({"class_weight": {0: float("nan")}}, "`class_weight`"),
               ({"sample_weight": np.ones(5)}, "`sample_weight`.*shape \\(12,\\)"),
               ({"sample_weight": -np.ones(12)}, "`sample_weight`.*non-negative"),
               ({"sample_weight": np.full(12, np.inf)}, "`sample_weight`"),
               ({"sample_weight": ["a"] * 12}, "`sample_weight`"),
               ({"sample_weight": np.ones(12), "class_weight": CLASS_WEIGHT}, "class_weight and sample_weight")]


@pytest.mark.parametrize("kwargs, message", BAD_WEIGHTS, ids=[m.split("`")[1] if "`" in m else m for _, m in BAD_WEIGHTS])
def test_bad_weights_are_named(kwargs, message):
    x, y = data()
    model = Sequential([Dense(3, input_shape=(4,))])
    model.compile("sgd", "mse")
    with pytest.raises(ClearCNNError, match=message):
        model.fit(x, np.eye(3)[y], verbose=0, **kwargs)
    if "class_weight" not in kwargs:
        with pytest.raises(ClearCNNError, match=message):
            model.evaluate(x, np.eye(3)[y], verbose=0, **kwargs)
    with pytest.raises(ClearCNNError, match=message):
        model.train_on_batch(x, np.eye(3)[y], **kwargs)


# --- the learning-rate callbacks, driven like Keras's ---------------------------------------------------------------

class FakeModel:
    """What the two callbacks touch: an optimizer with a learning rate, and stop_training."""

    def __init__(self, learning_rate):
        self.optimizer = type("Optimizer", (), {"learning_rate": learning_rate})()
        self.stop_training = False


def drive(callback, values, monitor, start=0.1, keras_callback=False):
    """The learning rate each epoch ends with, and what each epoch logs, for a sequence of monitored values."""
    model = FakeModel(start)
    callback.set_model(model)
    callback.on_train_begin({})
    rates, logs_seen = [], []
    for epoch, value in enumerate(values):
        callback.on_epoch_begin(epoch, {})
        logs = {monitor: value, "loss": value}
        callback.on_epoch_end(epoch, logs)
        rates.append(float(np.asarray(model.optimizer.learning_rate)))
        logs_seen.append(float(np.asarray(logs["learning_rate"])))
    return rates, logs_seen


PLATEAUS = [
    ({"monitor": "val_loss", "patience": 2}, [1.0, 0.9, 0.9, 0.95, 0.91, 0.8, 0.85, 0.85, 0.85, 0.85, 0.7, 0.75]),
    ({"monitor": "val_loss", "patience": 1, "factor": 0.5, "cooldown": 2, "min_delta": 0.05, "min_lr": 0.02},
     [1.0, 0.97, 0.96, 0.9, 0.89, 0.88, 0.87, 0.86, 0.85, 0.8, 0.79, 0.78, 0.77, 0.76]),
    ({"monitor": "val_accuracy", "patience": 0, "factor": 0.3, "mode": "max"}, [0.5, 0.6, 0.6, 0.55, 0.7, 0.7]),
    ({"monitor": "loss", "mode": "max", "patience": 1, "min_lr": 0.05}, [3.0, 2.0, 1.0, 4.0, 3.0, 2.0, 1.0, 0.5]),
]


@pytest.mark.parametrize("kwargs, values", PLATEAUS, ids=[str(i) for i in range(len(PLATEAUS))])
def test_reduce_lr_on_plateau_reduces_when_keras_does(keras, kwargs, values):
    mine = drive(ReduceLROnPlateau(**kwargs), values, kwargs["monitor"])
    theirs = drive(keras.callbacks.ReduceLROnPlateau(**kwargs), values, kwargs["monitor"])
    np.testing.assert_allclose(mine, theirs, rtol=1e-6)
    assert len(set(mine[0])) > 1  # the sequences do reduce the rate
    if kwargs.get("mode") == "max" and "acc" in kwargs["monitor"]:  # "auto" knows accuracy goes up
        assert drive(ReduceLROnPlateau(**{**kwargs, "mode": "auto"}), values, kwargs["monitor"]) == mine


SCHEDULES = [lambda epoch, lr: lr * 0.5 if epoch % 2 else lr, lambda epoch: 0.1 / (1 + epoch),
             lambda epoch, lr=None: 0.01 * (epoch + 1)]


@pytest.mark.parametrize("schedule", SCHEDULES, ids=["epoch-and-rate", "epoch-only", "rate-optional"])
def test_learning_rate_scheduler_sets_what_keras_sets(keras, schedule):
    values = [1.0] * 6
    mine = drive(LearningRateScheduler(schedule), values, "val_loss")
    theirs = drive(keras.callbacks.LearningRateScheduler(schedule), values, "val_loss")
    np.testing.assert_allclose(mine, theirs, rtol=1e-6)


def test_the_learning_rate_set_between_epochs_is_the_one_training_uses():
    """With the rate set to 0 for the second epoch nothing moves then; the history logs each epoch's rate."""
    x, y = data()
    model = Sequential([Dense(3, input_shape=(4,))])
    model.compile(SGD(0.1), "mse")
    seen = []
    from clearcnn.callbacks import LambdaCallback
    record = LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(model.get_weights()[0]))
    history = model.fit(x, np.eye(3)[y], epochs=3, verbose=0, shuffle=False, callbacks=[
        LearningRateScheduler(lambda epoch, lr: [0.1, 0.0, 0.05][epoch]), record])
    assert history.history["learning_rate"] == [0.1, 0.0, 0.05]
    assert not np.array_equal(seen[0], np.zeros_like(seen[0]))
    np.testing.assert_array_equal(seen[1], seen[0])
    assert not np.array_equal(seen[2], seen[1])
    assert model.optimizer.learning_rate == 0.05


def test_reduce_lr_on_plateau_in_fit_logs_and_lowers_the_rate():
    x, y = data()
    model = Sequential([Dense(3, input_shape=(4,))])
    model.compile(SGD(1e-9), "mse")  # too small to improve by min_delta
    history = model.fit(x, np.eye(3)[y], epochs=4, verbose=0, callbacks=[
        ReduceLROnPlateau(monitor="loss", patience=1, factor=0.5, min_delta=1.0)])
    # The first epoch sets the best value; each later one fails to improve and halves the rate as it ends (the log
    # holds the rate the epoch trained with).
    np.testing.assert_allclose(history.history["learning_rate"], [1e-9, 1e-9, 5e-10, 2.5e-10])
    assert model.optimizer.learning_rate == pytest.approx(1.25e-10)


BAD_CALLBACKS = [(ReduceLROnPlateau, {"factor": 1.0}, "`factor`"), (ReduceLROnPlateau, {"factor": -0.5}, "`factor`"),
                 (ReduceLROnPlateau, {"patience": -1}, "`patience`"), (ReduceLROnPlateau, {"cooldown": 1.5}, "`cooldown`"),
                 (ReduceLROnPlateau, {"min_lr": -1}, "`min_lr`"), (ReduceLROnPlateau, {"mode": "up"}, "`mode`"),
                 (ReduceLROnPlateau, {"monitor": 3}, "`monitor`"), (ReduceLROnPlateau, {"min_delta": "a"}, "`min_delta`"),
                 (ReduceLROnPlateau, {"verbose": "loud"}, "`verbose`"),
                 (LearningRateScheduler, {"schedule": 0.1}, "`schedule`"),
                 (LearningRateScheduler, {"schedule": abs, "verbose": -1}, "`verbose`")]


@pytest.mark.parametrize("cls, kwargs, message", BAD_CALLBACKS, ids=[m for _, _, m in BAD_CALLBACKS])
def test_bad_callback_arguments_are_named(cls, kwargs, message):
    with pytest.raises(ClearCNNError, match=message):
        cls(**kwargs)


@pytest.mark.parametrize("returned", [1, "0.1", None, float("nan"), -0.1])
def test_a_schedule_that_returns_no_learning_rate_is_named(returned):
    x, y = data()
    model = Sequential([Dense(3, input_shape=(4,))])
    model.compile(SGD(0.1), "mse")
    with pytest.raises(ClearCNNError, match="`schedule` must return a finite non-negative float.*epoch 0"):
        model.fit(x, np.eye(3)[y], verbose=0, callbacks=[LearningRateScheduler(lambda epoch, lr: returned)])


def test_a_monitored_value_that_is_not_logged_is_named():
    x, y = data()
    model = Sequential([Dense(3, input_shape=(4,))])
    model.compile(SGD(0.1), "mse")
    with pytest.raises(ClearCNNError, match="val_loss"):
        model.fit(x, np.eye(3)[y], verbose=0, callbacks=[ReduceLROnPlateau()])


# --- one image in -------------------------------------------------------------------------------------------------

def test_predict_on_one_image_without_its_batch_axis_shows_the_fix():
    model = Sequential([Conv2D(2, 3, input_shape=(8, 8, 3)), GlobalAveragePooling2D(), Dense(2)])
    image = np.random.default_rng(0).random((8, 8, 3))
    with pytest.raises(ClearCNNError, match=r"shape \(8, 8, 3\).*image\[None\].*np\.expand_dims\(image, 0\)"):
        model.check_input(image, "image")
    with pytest.raises(ClearCNNError, match=r"x\[None\].*np\.expand_dims\(x, 0\).*\(1, 8, 8, 3\)"):
        model.predict(image, verbose=0)
    assert model.predict(image[None], verbose=0).shape == (1, 2)
    gray = Sequential([Conv2D(2, 3, input_shape=(6, 6, 1))])
    with pytest.raises(ClearCNNError, match=r"x\[None, \.\.\., None\]"):
        gray.predict(np.zeros((6, 6)), verbose=0)


@pytest.mark.parametrize("suffix", [".clearcnn", ".keras"])
def test_a_saved_model_keeps_the_learning_rate_a_callback_set(tmp_path, suffix):
    from clearcnn.models import load_model
    x, y = data()
    model = Sequential([Dense(3, input_shape=(4,))])
    model.compile(SGD(0.1, momentum=0.5), "mse")
    model.fit(x, np.eye(3)[y], epochs=2, verbose=0, callbacks=[LearningRateScheduler(lambda epoch, lr: lr / 4)])
    assert model.optimizer.learning_rate == pytest.approx(0.1 / 16)
    model.save(tmp_path / f"m{suffix}")
    loaded = load_model(tmp_path / f"m{suffix}")
    assert loaded.optimizer.learning_rate == pytest.approx(0.1 / 16)
    assert loaded.optimizer.momentum == 0.5
