"""Callbacks with Keras's hooks: History, EarlyStopping, ModelCheckpoint, CSVLogger, LambdaCallback,
ReduceLROnPlateau and LearningRateScheduler."""
import csv
import inspect
import math
import numbers
import os

import numpy as np

from . import _namespaces
from .errors import ClearCNNError, check_bool, check_int, check_number, check_verbose, fail
from .progress import Progbar
from .saving import api as saving

HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_train_batch_begin",
         "on_train_batch_end", "on_test_begin", "on_test_end", "on_test_batch_begin", "on_test_batch_end",
         "on_predict_begin", "on_predict_end", "on_predict_batch_begin", "on_predict_batch_end")


class Callback:
    """Base class: override the hooks you need. `self.model` and `self.params` are set by fit. A callback that
    writes files sets `writes_files`: under a distribution only rank 0 runs it."""

    writes_files = False

    def __init__(self):
        self.model, self.params = None, {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params


for _hook in HOOKS:
    setattr(Callback, _hook, lambda self, *args, **kwargs: None)


class CallbackList:
    """Calls a hook on every callback in order."""

    def __init__(self, callbacks, model, params):
        self.callbacks = list(callbacks)
        for callback in self.callbacks:
            callback.set_model(model)
            callback.set_params(params)

    def __getattr__(self, hook):
        """Every hook receives its logs positionally, as Keras passes them: on_train_begin(logs),
        on_epoch_begin(epoch, logs), ...; {} where there is nothing to log yet."""
        if hook not in HOOKS:
            raise AttributeError(hook)
        arity = 2 if "_epoch_" in hook or "_batch_" in hook else 1  # (epoch or batch, logs) or (logs)

        def call(*args):
            args = args if len(args) == arity else (*args, {})
            return [getattr(c, hook)(*args) for c in self.callbacks]
        return call


class History(Callback):
    """Per-epoch lists of every logged value: `history.history["loss"]`, and `history.epoch`."""

    def __init__(self):
        super().__init__()
        self.history, self.epoch = {}, []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)


class ProgbarLogger(Callback):
    """Prints "Epoch i/n" and a progress bar (verbose=1) or one line per epoch (verbose=2)."""

    def __init__(self, verbose=1):
        super().__init__()
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        print(f"Epoch {epoch + 1}/{self.params['epochs']}", flush=True)
        self.bar = Progbar(self.params.get("steps"), verbose=self.verbose)

    def on_train_batch_end(self, batch, logs=None):
        self.bar.update(batch + 1, logs)

    def on_epoch_end(self, epoch, logs=None):
        self.bar.update(self.params.get("steps") or 0, logs, finalize=True)


class _Monitor(Callback):
    """Shared by EarlyStopping and ModelCheckpoint: which logged value to watch and which way is better."""

    def __init__(self, monitor, mode, min_delta=0.0, verbose=0):
        super().__init__()
        where = type(self).__name__
        if not isinstance(mode, str) or mode not in ("auto", "min", "max"):
            fail(where, "mode", mode, '"auto", "min" or "max"')
        if not isinstance(monitor, str):
            fail(where, "monitor", monitor, 'the name of a logged value such as "val_loss"')
        self.monitor = monitor
        if mode == "auto":
            mode = "max" if "acc" in monitor or monitor.endswith("auc") else "min"
        self.sign = 1.0 if mode == "max" else -1.0
        self.min_delta = abs(check_number(min_delta, where, "min_delta", "a number such as 0.001"))
        self.verbose = check_verbose(verbose, where)
        self.best = -np.inf

    def current(self, logs):
        if self.monitor not in (logs or {}):
            raise ClearCNNError(f"{type(self).__name__}: argument `monitor` names a value that fit does not log; "
                                f"received monitor={self.monitor!r}, available: {', '.join(logs or {})}.")
        return self.sign * logs[self.monitor]

    def improved(self, value):
        return value - self.min_delta > self.best


class EarlyStopping(_Monitor):
    """Stops training when `monitor` has not improved by `min_delta` for `patience` epochs."""

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode, min_delta, verbose)
        self.patience = check_int(patience, "EarlyStopping", "patience", "a non-negative integer such as 3")
        if baseline is not None:
            check_number(baseline, "EarlyStopping", "baseline", "None or a number such as 0.5")
        self.baseline = baseline
        self.restore_best_weights = check_bool(restore_best_weights, "EarlyStopping", "restore_best_weights")
        self.start_from_epoch = check_int(start_from_epoch, "EarlyStopping", "start_from_epoch",
                                          "a non-negative integer such as 0")

    def on_train_begin(self, logs=None):
        self.wait, self.stopped_epoch, self.best_weights, self.best_epoch = 0, 0, None, 0
        self.best = -np.inf if self.baseline is None else self.sign * self.baseline

    def on_epoch_end(self, epoch, logs=None):
        if epoch < self.start_from_epoch:
            return
        value = self.current(logs)
        self.wait += 1
        if self.improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None and self.stopped_epoch:
            if self.verbose:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(_Monitor):
    """Saves the model (or its weights) after each epoch, or only when `monitor` improves."""

    writes_files = True

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False,
                 mode="auto", save_freq="epoch"):
        super().__init__(monitor, mode, verbose=verbose)
        if not isinstance(save_freq, str) or save_freq != "epoch":
            fail("ModelCheckpoint", "save_freq", save_freq, '"epoch"')
        self.save_best_only = check_bool(save_best_only, "ModelCheckpoint", "save_best_only")
        self.save_weights_only = check_bool(save_weights_only, "ModelCheckpoint", "save_weights_only")
        # The format comes from the name: check it now, not after the first epoch.
        if not isinstance(filepath, (str, os.PathLike)) or not saving.writable(filepath, self.save_weights_only):
            fail("ModelCheckpoint", "filepath", filepath, "with save_weights_only=True, a name ending in .weights.h5 "
                 "(Keras weights) or one for clearcnn's .npz (not .keras or .h5)" if save_weights_only else
                 "a name ending in .keras (Keras 3) or .clearcnn; .h5 files are read, not written")
        self.filepath = os.fspath(filepath)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_best_only:
            value = self.current(logs)
            if not self.improved(value):
                return
            self.best = value
        if self.verbose:
            print(f"Epoch {epoch + 1}: saving model to {path}")
        (self.model.save_weights if self.save_weights_only else self.model.save)(path)


class CSVLogger(Callback):
    """Writes one CSV row per epoch: epoch, then the logged values."""

    writes_files = True

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        if not isinstance(filename, (str, os.PathLike)):
            fail("CSVLogger", "filename", filename, 'a file name such as "training.csv"')
        if not isinstance(separator, str) or len(separator) != 1:
            fail("CSVLogger", "separator", separator, 'one character such as ","')
        self.filename, self.separator = os.fspath(filename), separator
        self.append = check_bool(append, "CSVLogger", "append")

    def on_train_begin(self, logs=None):
        exists = self.append and os.path.exists(self.filename) and os.path.getsize(self.filename) > 0
        self.file = open(self.filename, "a" if self.append else "w", newline="")
        self.writer, self.header_written = None, exists

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.writer is None:
            self.writer = csv.DictWriter(self.file, fieldnames=["epoch", *logs], delimiter=self.separator)
            if not self.header_written:
                self.writer.writeheader()
        self.writer.writerow({"epoch": epoch, **logs})
        self.file.flush()

    def on_train_end(self, logs=None):
        self.file.close()


class LambdaCallback(Callback):
    """A callback from plain functions: LambdaCallback(on_epoch_end=lambda epoch, logs: ...)."""

    def __init__(self, **hooks):
        super().__init__()
        for name, function in hooks.items():
            if name not in HOOKS:
                raise ClearCNNError(f"LambdaCallback: unknown hook `{name}`; the hooks are {', '.join(HOOKS)}.")
            if function is not None and not callable(function):
                fail("LambdaCallback", name, function, "None or a function such as lambda epoch, logs: print(logs)")
            if function is not None:
                setattr(self, name, function)


def _learning_rate(callback):
    """The model's optimizer's learning rate as a float, or ClearCNNError where it is not a number that a callback
    may change (a schedule sets it itself at every step)."""
    rate = getattr(getattr(callback.model, "optimizer", None), "learning_rate", None)
    if isinstance(rate, (bool, np.bool_)) or not isinstance(rate, numbers.Real):
        raise ClearCNNError(f"{type(callback).__name__}: the optimizer's learning rate must be a number that the "
                            f"callback can change between epochs; received learning_rate={rate!r}. Compile with a "
                            f"fixed learning rate, such as optimizer=SGD(learning_rate=0.01).")
    return float(rate)


class ReduceLROnPlateau(_Monitor):
    """Multiplies the learning rate by `factor` (never below `min_lr`) when `monitor` has not improved by
    `min_delta` for `patience` epochs, then waits `cooldown` epochs before counting again. Logs the learning
    rate of each epoch as "learning_rate", as Keras does."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0):
        super().__init__(monitor, mode, min_delta, verbose)
        where = "ReduceLROnPlateau"
        self.factor = check_number(factor, where, "factor", "a number in [0, 1) such as 0.1 (the learning rate is "
                                   "multiplied by it)", lambda v: 0 <= v < 1)
        self.patience = check_int(patience, where, "patience", "a non-negative integer such as 10")
        self.cooldown = check_int(cooldown, where, "cooldown", "a non-negative integer such as 0")
        self.min_lr = check_number(min_lr, where, "min_lr", "a non-negative number such as 1e-6", lambda v: v >= 0)
        self.wait = self.cooldown_counter = 0

    def on_train_begin(self, logs=None):
        self.best, self.wait, self.cooldown_counter = -np.inf, 0, 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs["learning_rate"] = rate = _learning_rate(self)
        value = self.current(logs)
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self.improved(value):
            self.best, self.wait = value, 0
        elif self.cooldown_counter == 0:
            self.wait += 1
            # Keras compares with min_lr rounded to float32, the precision of its learning-rate variable.
            if self.wait >= self.patience and rate > np.float32(self.min_lr):
                new_rate = max(rate * self.factor, self.min_lr)
                self.model.optimizer.learning_rate = new_rate
                if self.verbose:
                    print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_rate}.")
                self.cooldown_counter, self.wait = self.cooldown, 0


class LearningRateScheduler(Callback):
    """Sets the learning rate at the start of each epoch to schedule(epoch, learning_rate) (epoch from 0), or to
    schedule(epoch) for a function of the epoch alone. Logs it as "learning_rate", as Keras does."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            fail("LearningRateScheduler", "schedule", schedule, "a function of (epoch, learning_rate) that returns "
                 "the new learning rate, such as lambda epoch, lr: lr * 0.9")
        self.schedule = schedule
        self.verbose = check_verbose(verbose, "LearningRateScheduler")

    def on_epoch_begin(self, epoch, logs=None):
        rate = _learning_rate(self)
        try:
            inspect.signature(self.schedule).bind(epoch, rate)
            arguments = (epoch, rate)
        except TypeError:  # a function of the epoch only
            arguments = (epoch,)
        except ValueError:  # a builtin without a signature: Keras's newer form
            arguments = (epoch, rate)
        new_rate = self.schedule(*arguments)
        if isinstance(new_rate, (bool, np.bool_)) or not isinstance(new_rate, (float, np.floating)) or \
                not math.isfinite(new_rate) or new_rate < 0:
            raise ClearCNNError(f"LearningRateScheduler: argument `schedule` must return a finite non-negative float, "
                                f"the learning rate; at epoch {epoch} it returned {new_rate!r}.")
        self.model.optimizer.learning_rate = float(new_rate)
        if self.verbose:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {float(new_rate)}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = _learning_rate(self)

__getattr__ = _namespaces.missing(__name__)
