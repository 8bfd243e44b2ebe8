"""compile, fit, evaluate, predict and the *_on_batch methods, with Keras's semantics."""
import math
import threading
from contextlib import contextmanager

import numpy as np

from .. import distribution, ops
from .. import losses as losses_module
from .. import metrics as metrics_module
from .. import optimizers as optimizers_module
from ..callbacks import Callback, CallbackList, History, ProgbarLogger
from ..errors import ClearCNNError, check_bool, check_int, check_number, check_verbose, fail, is_sequence
from ..layers.base import shard_of_batch
from ..progress import Progbar
from ..saving import api as saving
from ..utils import random_generator
from .data import ArrayBatches, as_batches, check_class_weight, class_weighted, labels, sample_weights, split_validation


class Trainer:
    """The training half of Sequential; expects `call`, `backward`, `check_input`, `trainable_weights`."""

    def __init__(self):
        self.optimizer = self.loss = None
        self.compiled_metrics = []
        self.stop_training = False
        self.rng = None  # the model's own generator: shuffling and dropout (saved with the model)
        self.history = None
        self._training = threading.RLock()  # one thread trains a model at a time; predictions may run in many

    @contextmanager
    def _exclusively(self, what):
        """Hold the model for `what` (fit, train_on_batch), or raise ClearCNNError when another thread holds it:
        a training step keeps per-layer state between its forward and backward passes."""
        if not self._training.acquire(blocking=False):
            raise ClearCNNError(f"{self.where}: {what}() was called while another thread trains this "
                                f"model; train a model from one thread at a time (predict may run in several).")
        try:
            yield
        finally:
            self._training.release()

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, **unsupported):
        """Choose the optimizer, the loss and the metrics (strings or objects), as Keras does."""
        for key, value in unsupported.items():
            if value is not None:
                raise ClearCNNError(f"compile: argument `{key}` is not supported; received {key}={value!r}.")
        if loss is None:
            raise ClearCNNError("compile: argument `loss` is required, e.g. "
                                "loss=\"sparse_categorical_crossentropy\"; received loss=None.")
        self.optimizer = optimizers_module.get(optimizer)
        self.loss = losses_module.get(loss)
        if isinstance(metrics, (str, metrics_module.Metric)):
            metrics = [metrics]
        if metrics is not None and not isinstance(metrics, (list, tuple)):
            fail("compile", "metrics", metrics, 'None, a metric, or a list of metrics such as ["accuracy"]')
        self.compiled_metrics = [metrics_module.get(m, self.loss) for m in (metrics or [])]
        if self.rng is None:
            self.rng = np.random.default_rng(random_generator().integers(2 ** 63))
        for layer in self.layers:
            layer.rng = layer.rng or self.rng
        self._compile_config = {"optimizer": optimizers_module.serialize(self.optimizer),
                                "loss": losses_module.serialize(self.loss),
                                "metrics": [metrics_module.serialize(m) for m in self.compiled_metrics]}

    @property
    def metrics_names(self):
        return ["loss"] + [m.name for m in self.compiled_metrics]

    def _require_compiled(self, what):
        if self.loss is None:
            raise ClearCNNError(f"{self.where}: {what}() needs compile(optimizer, loss) first.")

    # --- one batch -------------------------------------------------------------------------------

    @property
    def losses(self):
        """The layers' penalties (weight and activity regularizers) from the last forward pass, as Keras's
        model.losses."""
        return [penalty for layer in self.layers for penalty in layer.losses]

    def _loss_and_gradient(self, x, y, training, sample_weight=None):
        """Predictions, the loss per sample with the regularizers' penalty added (the loss that Keras reports and
        differentiates), and the loss's gradient with respect to the predictions. Sample weights multiply each
        sample's loss and gradient; the batch's loss stays their sum over the batch size, as in Keras."""
        y_pred = self.call(x, training)
        per_sample, grad = self.loss.compute(np.asarray(y), y_pred)
        if sample_weight is not None:
            per_sample = per_sample * sample_weight
            grad = grad * sample_weight.reshape(-1, *(1,) * (grad.ndim - 1)).astype(grad.dtype)
        penalty = sum(self.losses)
        return y_pred, per_sample + penalty if penalty else per_sample, grad

    def _on_replicas(self, x, y, training, sample_weight=None):
        """_loss_and_gradient of this replica's shard of the batch (alone: the whole batch), with the predictions
        and the losses of every replica's shard gathered: what the whole batch gives. The gradient is the shard's."""
        replicas = distribution.replicas()
        part = replicas.shard(len(x))
        if part.start == part.stop:  # fewer samples than replicas: nothing to compute here
            y_pred = np.zeros((0, *self.output_shape[1:]), self.dtype)
            per_sample, grad = np.zeros(0), None
        else:
            with replicas.sharded_random(self.layers, len(x), part), shard_of_batch(len(x)):
                weights = None if sample_weight is None else sample_weight[part]
                y_pred, per_sample, grad = self._loss_and_gradient(x[part], y[part], training, weights)
        return replicas.gather(y_pred, len(x)), replicas.gather(per_sample, len(x)), grad

    def _train_batch(self, x, y, where="", sample_weight=None, class_weight=None):
        x = self.check_input(x)
        y = labels(self, y, len(x))
        if class_weight is not None:
            if sample_weight is not None:
                raise ClearCNNError(f"{self.where}: class_weight and sample_weight cannot be used together (as in "
                                    f"Keras); multiply the class weights into the sample weights instead.")
            sample_weight = class_weighted(y, class_weight)
        sample_weight = sample_weights(self, sample_weight, len(x))
        y_pred, per_sample, grad = self._on_replicas(x, y, training=True, sample_weight=sample_weight)
        loss = float(per_sample.mean())
        if not math.isfinite(loss):
            raise ClearCNNError(f"{self.where}: the loss became {loss}{where}; training stopped before "
                                f"this batch changed any weight. Try a lower learning rate, scale the inputs "
                                f"(e.g. x / 255), or check the data for NaN or inf.")
        if grad is not None:  # the gradient of the batch's mean loss: each shard's part, summed over replicas
            self.backward(grad.astype(x.dtype, copy=False) / len(x))
        else:
            for weight in self.trainable_weights:
                weight.grad = np.zeros_like(weight.value)
        distribution.replicas().sum_gradients(self.trainable_weights)
        for layer in self.layers:
            layer.add_regularization_gradients()
        with ops.batch_scope(len(x)):
            self.optimizer.apply(self.trainable_weights)
        for layer in self.layers:  # BatchNormalization's moving statistics, after the weights, as Keras does
            layer.apply_state_updates()
        distribution.replicas().share_state(self)
        return y_pred, per_sample

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One optimizer step on one batch; returns the loss (and metrics) of that batch."""
        self._require_compiled("train_on_batch")
        class_weight = check_class_weight(class_weight, "train_on_batch")
        tracker = _Trackers(self)
        with self._exclusively("train_on_batch"):
            y_pred, per_sample = self._train_batch(x, y, sample_weight=sample_weight, class_weight=class_weight)
        tracker.update(y, y_pred, per_sample)
        return tracker.result(return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        self._require_compiled("test_on_batch")
        x = self.check_input(x)
        y = labels(self, y, len(x))
        tracker = _Trackers(self)
        y_pred, per_sample, _ = self._on_replicas(x, y, training=False,
                                                  sample_weight=sample_weights(self, sample_weight, len(x)))
        tracker.update(y, y_pred, per_sample)
        return tracker.result(return_dict)

    def predict_on_batch(self, x):
        return self.call(self.check_input(x), training=False)

    # --- loops -----------------------------------------------------------------------------------

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
            validation_batch_size=None, **unsupported):
        """Train for `epochs` epochs; returns a History. See keras.Model.fit for the arguments."""
        self._require_compiled("fit")
        _reject_unsupported("fit", unsupported)
        epochs = check_int(epochs, "fit", "epochs", "a non-negative integer such as 10")
        initial_epoch = check_int(initial_epoch, "fit", "initial_epoch", "a non-negative integer, the epoch to "
                                                                         "resume at, such as 0")
        validation_split = check_number(validation_split, "fit", "validation_split", "a number in [0, 1), the "
                                        "fraction of samples held out, such as 0.2", lambda v: 0 <= v < 1)
        shuffle = check_bool(shuffle, "fit", "shuffle")
        if validation_batch_size is not None:
            validation_batch_size = check_int(validation_batch_size, "fit", "validation_batch_size",
                                              "a positive integer such as 256, or None for batch_size", 1)
        verbose, callbacks = check_verbose(verbose, "fit"), _callbacks(callbacks)
        class_weight = check_class_weight(class_weight)
        if class_weight is not None and sample_weight is not None:
            raise ClearCNNError("fit: class_weight and sample_weight cannot be used together (as in Keras); "
                                "multiply the class weights into the sample weights instead.")
        if validation_split and validation_data is None:
            x, y, sample_weight, validation_data = split_validation(self, x, y, validation_split, sample_weight)
        train = as_batches(self, x, y, batch_size, shuffle, self.rng, sample_weight=sample_weight)
        if validation_data is not None:
            x_val, y_val, weights_val = _unpack(validation_data)
            validation = as_batches(self, x_val, y_val, validation_batch_size or batch_size, argument="validation_data",
                                    sample_weight=weights_val)
        else:
            validation = None
        with self._exclusively("fit"):
            verbose = self._start_replicas(train, verbose)
            callbacks = [c for c in callbacks if distribution.replicas().is_writer or not c.writes_files]
            return self._fit_epochs(train, validation, epochs, initial_epoch, verbose, callbacks, class_weight)

    def _start_replicas(self, batches, verbose):
        """Every replica from rank 0's state, before a loop over `batches`; the verbosity this replica prints
        with (only rank 0 prints). Alone, nothing changes."""
        replicas = distribution.replicas()
        if isinstance(batches, ArrayBatches):
            replicas.check_batch_size(batches.batch_size)
        replicas.start(self)
        return verbose if replicas.is_writer else 0

    def _fit_epochs(self, train, validation, epochs, initial_epoch, verbose, callbacks, class_weight=None):
        history = History()
        callback_list = CallbackList(([ProgbarLogger(verbose)] if verbose else []) + callbacks + [history], self,
                                     {"epochs": epochs, "steps": len(train), "verbose": verbose})
        self.stop_training = False
        callback_list.on_train_begin()
        for epoch in range(initial_epoch, epochs):
            tracker = _Trackers(self)
            callback_list.on_epoch_begin(epoch)
            for step, (xb, yb, wb) in enumerate(train):
                callback_list.on_train_batch_begin(step)
                y_pred, per_sample = self._train_batch(xb, yb, f" at epoch {epoch + 1}, batch {step + 1}", wb,
                                                       class_weight)
                tracker.update(yb, y_pred, per_sample)
                callback_list.on_train_batch_end(step, tracker.logs())
                if self.stop_training:
                    break
            logs = tracker.logs()
            if validation is not None:
                logs.update({f"val_{k}": v for k, v in self._evaluate_batches(validation).logs().items()})
            callback_list.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        callback_list.on_train_end()
        history.params, history.model = callback_list.callbacks[-1].params, self
        self.history = history  # as Keras does: the last fit's History
        return history

    def _evaluate_batches(self, batches, progress=None):
        tracker = _Trackers(self)
        for step, (xb, yb, wb) in enumerate(batches):
            xb = self.check_input(xb)
            yb = labels(self, yb, len(xb))
            y_pred, per_sample, _ = self._on_replicas(xb, yb, training=False,
                                                      sample_weight=sample_weights(self, wb, len(xb)))
            tracker.update(yb, y_pred, per_sample)
            if progress:
                progress.update(step + 1, tracker.logs())
        if progress:
            progress.update(len(batches), tracker.logs(), finalize=True)
        return tracker

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, return_dict=False,
                 **unsupported):
        """Loss and metrics over the data: a float when there are no metrics, else [loss, metric, ...]. Sample
        weights weigh each sample's loss (the metrics are unweighted, as Keras's `metrics`)."""
        self._require_compiled("evaluate")
        _reject_unsupported("evaluate", unsupported)
        batches = as_batches(self, x, y, batch_size, sample_weight=sample_weight)
        verbose = self._start_replicas(batches, check_verbose(verbose, "evaluate"))
        progress = Progbar(len(batches), verbose=verbose) if verbose else None
        return self._evaluate_batches(batches, progress).result(return_dict)

    def predict(self, x, batch_size=None, verbose="auto", **unsupported):
        """Outputs for every sample, computed in batches (inference mode: dropout off)."""
        _reject_unsupported("predict", unsupported)
        batches = as_batches(self, x, None, batch_size)
        verbose = self._start_replicas(batches, check_verbose(verbose, "predict"))
        progress = Progbar(len(batches), verbose=verbose) if verbose else None
        replicas, outputs = distribution.replicas(), []
        for step, (xb, *_) in enumerate(batches):
            xb = self.check_input(xb)
            part = replicas.shard(len(xb))
            y_pred = self.call(xb[part], training=False) if part.stop > part.start else \
                np.zeros((0, *self.output_shape[1:]), self.dtype)
            outputs.append(replicas.gather(y_pred, len(xb)))
            if progress:
                progress.update(step + 1)
        if progress:
            progress.update(len(batches), finalize=True)
        if not outputs:
            raise ClearCNNError(f"{self.where}: predict() received no samples.")
        return np.concatenate(outputs)

    # --- files -----------------------------------------------------------------------------------

    def save(self, filepath):
        """Write the architecture, compile settings, weights and optimizer state to one file (atomically); under
        a distribution, rank 0 writes it and the others, holding the same model, write nothing."""
        if distribution.replicas().is_writer:
            saving.save_model(self, filepath)

    def save_weights(self, filepath):
        if distribution.replicas().is_writer:
            saving.save_weights(self, filepath)

    def load_weights(self, filepath):
        saving.load_weights(self, filepath)


class _Trackers:
    """The epoch's running loss (mean over samples) and metrics."""

    def __init__(self, model):
        self.loss_total, self.count = 0.0, 0
        self.metrics = model.compiled_metrics
        for metric in self.metrics:
            metric.reset_state()

    def update(self, y_true, y_pred, per_sample):
        self.loss_total += float(per_sample.sum(dtype=np.float64))
        self.count += len(per_sample)
        for metric in self.metrics:
            metric.update_state(y_true, y_pred)

    def logs(self):
        """Keras 3's order: the compiled metrics, then the loss."""
        logs = {metric.name: metric.result() for metric in self.metrics}
        logs["loss"] = self.loss_total / max(self.count, 1)
        return logs

    def result(self, return_dict):
        logs = self.logs()
        if return_dict:
            return {"loss": logs["loss"], **{m.name: logs[m.name] for m in self.metrics}}
        if not self.metrics:
            return logs["loss"]
        return [logs["loss"]] + [logs[m.name] for m in self.metrics]


def _callbacks(callbacks):
    """A list of Callback objects from None, one callback or an iterable of them (Keras flattens them too)."""
    if callbacks is None or isinstance(callbacks, Callback):
        return [] if callbacks is None else [callbacks]
    listed = list(callbacks) if is_sequence(callbacks) else None
    if listed is None or not all(isinstance(c, Callback) for c in listed):
        fail("fit", "callbacks", callbacks, "None or a list of Callback objects such as [EarlyStopping()]")
    return listed


def _unpack(validation_data):
    """(x, y, sample_weight) from (x_val, y_val), (x_val, y_val, val_sample_weight) or a dataset."""
    if isinstance(validation_data, (tuple, list)):
        if len(validation_data) not in (2, 3):
            raise ClearCNNError(f"fit: argument `validation_data` must be (x_val, y_val), (x_val, y_val, "
                                f"val_sample_weight) or a dataset; received a sequence of {len(validation_data)} "
                                f"items.")
        return (*validation_data, None)[:3]
    if not is_sequence(validation_data):
        fail("fit", "validation_data", validation_data, "(x_val, y_val) or a dataset of (x, y) batches")
    return validation_data, None, None


def _reject_unsupported(where, arguments):
    for key, value in arguments.items():
        if value is not None:
            raise ClearCNNError(f"{where}: argument `{key}` is not supported; received {key}={value!r}.")
