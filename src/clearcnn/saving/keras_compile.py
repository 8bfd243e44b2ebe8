"""The compile settings of Keras 3 files, in and out: `compile_config` in config.json (the optimizer, the loss and
the metrics) and the optimizer's state in model.weights.h5, so that training goes on where it stopped, in either
library.

    optimizer/vars/0        the step count (int64)
    optimizer/vars/1        the learning rate (float32; absent when it is a schedule)
    optimizer/vars/2...     the slots in Keras's order (see Optimizer.keras_order): Adam's m and v per weight,
                            SGD's momentum per weight (none without momentum), RMSprop's velocities then momentums

What clearcnn lacks (an optimizer such as Nadam, a loss such as Huber, loss_weights, an optimizer option switched
on such as clipnorm) gives a warning and the model uncompiled, as its weights are still good: compile it anew.
"""
import warnings

import numpy as np

from .. import losses, metrics, optimizers, schedules
from ..errors import ClearCNNError

# Keras's loss and metric options that clearcnn does not take, at their defaults (a file names them all).
KERAS_LOSS_DEFAULTS = {"reduction": "sum_over_batch_size", "ignore_class": None, "dtype": None, "axis": -1,
                       "label_smoothing": 0.0}
KERAS_METRIC_DEFAULTS = {"dtype": "float32"}
# compile() arguments that change the numbers and that clearcnn does not take: only their defaults are read. Keras's
# others (run_eagerly, jit_compile, steps_per_execution, auto_scale_loss) choose how Keras runs, not what it computes.
KERAS_COMPILE_DEFAULTS = {"loss_weights": None, "weighted_metrics": None}


def _plain_object(value, defaults):
    """A Keras-serialised object as {class_name, config} with options at Keras's defaults left out; a name stays a
    name, and Keras's {class_name: "function", config: name} becomes the name."""
    if isinstance(value, dict):
        if value.get("class_name") == "function" and isinstance(value.get("config"), str):
            return value["config"]
        config = value.get("config") or {}
        if not isinstance(config, dict):
            raise ClearCNNError(f"the config of {value.get('class_name')!r} is not a dict")
        for key, default in defaults.items():
            if key in config and config[key] == default:
                config = {k: v for k, v in config.items() if k != key}
        return {"class_name": value.get("class_name"), "config": config}
    return value


def compile_from_config(model, compile_config, label):
    """Compile `model` as the file's compile_config says; True when compiled, False with a warning where clearcnn
    lacks part of it (or the file holds none: then silently)."""
    if not isinstance(compile_config, dict) or not compile_config:  # Keras writes {} for an uncompiled model
        return False
    try:
        for key, default in KERAS_COMPILE_DEFAULTS.items():
            if compile_config.get(key, default) not in (default, None):
                raise ClearCNNError(f"compile option `{key}` = {compile_config[key]!r} is not supported")
        optimizer = _plain_object(compile_config.get("optimizer"), {})
        metric_list = compile_config.get("metrics") or []
        if not isinstance(metric_list, list):
            raise ClearCNNError(f"metrics must be a list; received {metric_list!r}")
        for metric in metric_list:
            if isinstance(metric, dict) and metric.get("class_name") == "Accuracy":  # exact match: not clearcnn's
                raise ClearCNNError("the metric keras.metrics.Accuracy (exact equality) is not supported")
        model.compile(optimizer=optimizer, loss=_plain_object(compile_config.get("loss"), KERAS_LOSS_DEFAULTS),
                      metrics=[_plain_object(m, KERAS_METRIC_DEFAULTS) for m in metric_list])
        return True
    except (ValueError, TypeError, AttributeError, KeyError, IndexError, OverflowError, RecursionError) as error:
        model.optimizer = model.loss = None
        model.compiled_metrics = []
        warnings.warn(f"load_model: {label}: the model is returned uncompiled, with its weights, because clearcnn "
                      f"cannot restore its compile settings ({error}); call model.compile(...) before training.",
                      stacklevel=4)
        return False


def read_optimizer_state(model, read, label):
    """(iterations, slot arrays in Keras's order) from the file's optimizer/vars, through `read(name, shape)`
    (the checked reader of the weights file; None where the name is missing), or None with a warning where the
    file holds no state for this optimizer or state of another layout: training then starts its state afresh."""
    optimizer, weights = model.optimizer, model.trainable_weights
    if read("optimizer/vars/0", None, probe=True) is None:
        return None  # never trained, or saved without its optimizer: nothing to restore
    with_rate = not isinstance(optimizer.learning_rate, schedules.LearningRateSchedule)
    order = optimizer.keras_order(len(weights))
    count = 1 + with_rate + len(order)
    stored = read("optimizer/vars", None, probe=True)
    if stored is None or len(stored) != count:
        warnings.warn(f"load_model: {label}: the optimizer's saved state holds {0 if stored is None else len(stored)} "
                      f"variables and this {type(optimizer).__name__} keeps {count}; its state starts afresh.",
                      stacklevel=6)
        return None
    iterations = int(read("optimizer/vars/0", ()))
    arrays = [read(f"optimizer/vars/{1 + with_rate + k}", weights[i].shape) for k, (i, _) in enumerate(order)]
    return iterations, arrays


def restore_optimizer_state(model, state):
    if state is not None:
        model.optimizer.set_keras_state(model.trainable_weights, *state)


def write_optimizer_vars(model, file):
    """The compiled model's optimizer state as Keras writes it (optimizer/vars)."""
    optimizer = model.optimizer
    if optimizer is None:
        return
    iterations, arrays = optimizer.keras_state(model.trainable_weights)
    group = file.create_group("optimizer/vars")
    group.attrs["name"] = optimizer.name
    values = [np.asarray(iterations, np.int64)]
    if not isinstance(optimizer.learning_rate, schedules.LearningRateSchedule):
        values.append(np.asarray(optimizer.learning_rate, np.float32))
    for index, value in enumerate(values + list(arrays)):
        group.create_dataset(str(index), data=value)


def compile_config(model):
    """Keras's compile_config for a compiled model, or {} (what Keras writes for an uncompiled one)."""
    if model.loss is None:
        return {}
    optimizer = optimizers.serialize(model.optimizer)
    config = {k: v for k, v in optimizer["config"].items()}
    if isinstance(model.optimizer.learning_rate, schedules.LearningRateSchedule):
        config["learning_rate"] = schedules.serialize(model.optimizer.learning_rate)
    loss = losses.serialize(model.loss)
    return {"optimizer": {"module": "keras.optimizers", "class_name": optimizer["class_name"], "config": config,
                          "registered_name": None},
            "loss": {"module": "keras.losses", "class_name": loss["class_name"], "config": loss["config"],
                     "registered_name": None},
            "loss_weights": None, "metrics": [_keras_metric(m) for m in model.compiled_metrics],
            "weighted_metrics": None, "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False}


def _keras_metric(metric):
    """A metric as Keras names it: "accuracy" (and the other names compile takes) as the name, others as objects."""
    if isinstance(metric, metrics.Accuracy):
        return metric.name if metric.name in ("accuracy", "acc") else "accuracy"  # chosen from the loss, in both
    if metrics.METRICS.get(metric.name) is type(metric):
        return metric.name
    serialized = metrics.serialize(metric)
    return {"module": "keras.metrics", "class_name": serialized["class_name"], "config": serialized["config"],
            "registered_name": None}
