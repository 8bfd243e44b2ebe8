"""Callbacks with Keras's hooks and rules: EarlyStopping (patience counted as keras/src/callbacks/
early_stopping.py does), ModelCheckpoint, CSVLogger, LambdaCallback, and the progress output for each
verbose level on a stream that is not a terminal."""
import csv

import numpy as np
import pytest

from clearcnn import ClearCNNError
from clearcnn.callbacks import Callback, CSVLogger, EarlyStopping, LambdaCallback, ModelCheckpoint
from clearcnn.layers import Dense
from clearcnn.models import Sequential, load_model
from clearcnn.optimizers import SGD
from clearcnn.utils import set_random_seed


def data(n=10, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 5)).astype("float32"), rng.integers(0, 3, size=n)


def model_for_callbacks(learning_rate=0.1):
    set_random_seed(0)
    model = Sequential([Dense(3, activation="softmax", input_shape=(5,))])
    model.compile(SGD(learning_rate=learning_rate), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


class Feed(Callback):
    """Logs a made-up value per epoch, so the monitored sequence is known in advance."""

    def __init__(self, name, values):
        super().__init__()
        self.name, self.values = name, values

    def on_epoch_end(self, epoch, logs=None):
        logs[self.name] = self.values[epoch]


class Snapshots(Callback):
    def __init__(self):
        super().__init__()
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())


def same(a, b):
    return all(np.array_equal(u, v) for u, v in zip(a, b))


# --- EarlyStopping -------------------------------------------------------------------------------

def test_early_stopping_counts_patience_and_restores_the_best_weights():
    # score: 3, 1 (best), 2, 2 -> with patience 2 Keras stops at the end of epoch index 3
    model = model_for_callbacks()
    snaps = Snapshots()
    stopper = EarlyStopping(monitor="score", patience=2, restore_best_weights=True)
    history = model.fit(*data(), batch_size=4, epochs=10, verbose=0,
                        callbacks=[Feed("score", [3, 1, 2, 2, 2, 2, 2, 2, 2, 2]), snaps, stopper])
    assert history.epoch == [0, 1, 2, 3]
    assert history.history["score"] == [3, 1, 2, 2]
    assert stopper.stopped_epoch == 3 and stopper.best_epoch == 1
    assert not same(snaps.weights[1], snaps.weights[3])  # training moved on after the best epoch
    assert same(model.get_weights(), snaps.weights[1])


def test_early_stopping_without_restore_keeps_the_last_weights():
    model = model_for_callbacks()
    snaps = Snapshots()
    model.fit(*data(), batch_size=4, epochs=10, verbose=0,
              callbacks=[Feed("score", [3, 1, 2, 2, 2, 2, 2, 2, 2, 2]), snaps, EarlyStopping("score", patience=2)])
    assert len(snaps.weights) == 4 and same(model.get_weights(), snaps.weights[3])


@pytest.mark.parametrize("values, kwargs, epochs_run", [
    ([3, 1, 2, 0, 0], dict(patience=0), 3),  # stops at the first epoch without improvement
    ([1.0, 0.95, 0.9, 0.85, 0.8], dict(patience=1, min_delta=0.1), 2),  # improvements below min_delta
    ([5, 4, 3, 2, 1], dict(patience=1), 5),  # always improving: never stops
    ([0.5, 0.6, 0.4, 0.3, 0.2], dict(patience=1, mode="max"), 3),
])
def test_early_stopping_rules(values, kwargs, epochs_run):
    model = model_for_callbacks()
    history = model.fit(*data(), batch_size=4, epochs=len(values), verbose=0,
                        callbacks=[Feed("score", values), EarlyStopping("score", **kwargs)])
    assert len(history.epoch) == epochs_run


def test_early_stopping_auto_mode_maximises_accuracy_names():
    model = model_for_callbacks()
    history = model.fit(*data(), batch_size=4, epochs=5, verbose=0,
                        callbacks=[Feed("my_acc", [0.5, 0.4, 0.3, 0.2, 0.1]), EarlyStopping("my_acc", patience=1)])
    assert history.epoch == [0, 1]


def test_early_stopping_on_a_real_val_loss_that_rises():
    # a learning rate so large that the first step overshoots: val_loss gets worse from epoch 2 on
    x, y = data(n=30)
    model = model_for_callbacks(learning_rate=50.0)
    stopper = EarlyStopping(patience=1, restore_best_weights=True)
    snaps = Snapshots()
    history = model.fit(x, y, batch_size=30, epochs=20, validation_data=(x, y), verbose=0, callbacks=[snaps, stopper])
    losses = history.history["val_loss"]
    best = int(np.argmin(losses))
    assert len(losses) < 20 and len(losses) == best + 2
    assert same(model.get_weights(), snaps.weights[best])


def test_early_stopping_on_a_value_that_is_not_logged():
    model = model_for_callbacks()
    with pytest.raises(ClearCNNError, match="val_loss.*loss"):
        model.fit(*data(), epochs=1, verbose=0, callbacks=[EarlyStopping()])  # no validation data


# --- ModelCheckpoint -----------------------------------------------------------------------------

def test_model_checkpoint_save_best_only_writes_on_improvement(tmp_path):
    model = model_for_callbacks()
    snaps = Snapshots()
    checkpoint = ModelCheckpoint(str(tmp_path / "m-{epoch}.clearcnn"), monitor="score", save_best_only=True)
    model.fit(*data(), batch_size=4, epochs=5, verbose=0,
              callbacks=[Feed("score", [3, 1, 2, 0.5, 0.7]), snaps, checkpoint])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m-1.clearcnn", "m-2.clearcnn", "m-4.clearcnn"]
    assert same(load_model(tmp_path / "m-2.clearcnn").get_weights(), snaps.weights[1])
    assert same(load_model(tmp_path / "m-4.clearcnn").get_weights(), snaps.weights[3])


def test_model_checkpoint_every_epoch_and_weights_only(tmp_path):
    model = model_for_callbacks()
    snaps = Snapshots()
    model.fit(*data(), batch_size=4, epochs=3, verbose=0,
              callbacks=[snaps, ModelCheckpoint(str(tmp_path / "e{epoch}.weights.npz"), save_weights_only=True)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e1.weights.npz", "e2.weights.npz", "e3.weights.npz"]
    other = model_for_callbacks()
    other.load_weights(tmp_path / "e2.weights.npz")
    assert same(other.get_weights(), snaps.weights[1])


def test_model_checkpoint_one_file_keeps_the_best(tmp_path):
    model = model_for_callbacks()
    snaps = Snapshots()
    path = tmp_path / "best.clearcnn"
    model.fit(*data(), batch_size=4, epochs=4, verbose=0,
              callbacks=[Feed("score", [2, 1, 3, 4]), snaps,
                         ModelCheckpoint(path, monitor="score", save_best_only=True)])
    assert same(load_model(path).get_weights(), snaps.weights[1])
    assert [p.name for p in tmp_path.iterdir()] == ["best.clearcnn"]


# --- CSVLogger ---------------------------------------------------------------------------------------

def test_csv_logger_writes_a_header_and_one_row_per_epoch(tmp_path):
    x, y = data()
    model = model_for_callbacks()
    path = tmp_path / "log.csv"
    history = model.fit(x, y, batch_size=4, epochs=3, validation_data=(x, y), verbose=0, callbacks=[CSVLogger(path)])
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    assert header[0] == "epoch" and set(header[1:]) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert [row[0] for row in body] == ["0", "1", "2"]
    for column, key in enumerate(header[1:], 1):
        assert [float(row[column]) for row in body] == history.history[key]

    model.fit(x, y, batch_size=4, epochs=2, validation_data=(x, y), verbose=0, callbacks=[CSVLogger(path, append=True)])
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert len(rows) == 1 + 3 + 2 and rows.count(header) == 1


# --- LambdaCallback and the order of hooks ---------------------------------------------------------

def test_lambda_callback_hooks_are_called_in_keras_order():
    calls = []
    callback = LambdaCallback(
        on_train_begin=lambda logs: calls.append("train_begin"),
        on_epoch_begin=lambda epoch, logs: calls.append(f"epoch_begin {epoch}"),
        on_train_batch_begin=lambda batch, logs: calls.append(f"batch_begin {batch}"),
        on_train_batch_end=lambda batch, logs: calls.append(f"batch_end {batch} {sorted(logs)}"),
        on_epoch_end=lambda epoch, logs: calls.append(f"epoch_end {epoch} {sorted(logs)}"),
        on_train_end=lambda logs: calls.append("train_end"))
    model = model_for_callbacks()
    model.fit(*data(n=6), batch_size=4, epochs=2, verbose=0, callbacks=[callback])
    epoch = lambda e: [f"epoch_begin {e}", "batch_begin 0", "batch_end 0 ['accuracy', 'loss']",  # noqa: E731
                       "batch_begin 1", "batch_end 1 ['accuracy', 'loss']", f"epoch_end {e} ['accuracy', 'loss']"]
    assert calls == ["train_begin", *epoch(0), *epoch(1), "train_end"]


def test_stop_training_from_a_batch_hook():
    model = model_for_callbacks()
    stop = LambdaCallback(on_train_batch_end=lambda batch, logs: setattr(model, "stop_training", True))
    history = model.fit(*data(), batch_size=2, epochs=3, verbose=0, callbacks=[stop])
    assert history.epoch == [0]


def test_lambda_callback_unknown_hook():
    with pytest.raises(ClearCNNError, match="on_batch_finish"):
        LambdaCallback(on_batch_finish=print)


# --- progress output -------------------------------------------------------------------------------

def result_lines(text):
    return [line for line in text.splitlines() if "loss:" in line]


def test_verbose_1_on_a_pipe_writes_finished_lines_only(capsys):
    model = model_for_callbacks()
    model.fit(*data(), batch_size=4, epochs=3, verbose=1)
    out = capsys.readouterr().out
    assert "\r" not in out and "\b" not in out
    lines = out.splitlines()
    assert [line for line in lines if line.startswith("Epoch")] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    results = result_lines(out)
    assert len(results) == 3 and all(line.startswith("3/3 ") for line in results)
    assert all("accuracy:" in line for line in results)
    assert len(lines) == 6  # "Epoch i/n" and one result line per epoch


def test_verbose_2_writes_one_line_per_epoch(capsys):
    x, y = data()
    model = model_for_callbacks()
    model.fit(x, y, batch_size=4, epochs=2, validation_data=(x, y), verbose=2)
    out = capsys.readouterr().out
    assert "\r" not in out and "\b" not in out and "━" not in out
    results = result_lines(out)
    assert len(results) == 2 and all("val_loss:" in line for line in results)


def test_verbose_0_is_silent(capsys):
    x, y = data()
    model = model_for_callbacks()
    model.fit(x, y, batch_size=4, epochs=2, validation_data=(x, y), verbose=0)
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    assert capsys.readouterr().out == ""


def test_evaluate_verbose_prints_one_line(capsys):
    x, y = data()
    model_for_callbacks().evaluate(x, y, batch_size=4, verbose=1)
    out = capsys.readouterr().out
    assert "\r" not in out and len(out.splitlines()) == 1 and out.startswith("3/3 ")
