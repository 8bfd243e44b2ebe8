"""clearcnn's own model file: a zip holding JSON and .npy arrays. Never pickle.

    clearcnn.json        format, version, the architecture, compile settings, optimizer step, RNG state
    weights/0000.npy     every weight, in model.weights order
    optimizer/0000.npy   the optimizer's slots (momentum, Adam's m and v), in order

Every file is written to a temporary file beside the target and renamed into place, so an interrupted
save never destroys the previous file. Reading checks everything before it changes anything and raises
ClearCNNError on any damage; no member is read past what the model needs (see files.py).

api.py chooses the format by the file's name; the Sequential class comes from clearcnn.registry.
"""
import io
import json
import os
import zipfile

import numpy as np

from .. import registry
from ..errors import ClearCNNError
from ..ops.shapes import is_int
from .files import read_json, read_npy, safe_archive, unpacked_bound, write_atomically

FORMAT, VERSION, DESCRIPTION = "clearcnn", 1, "clearcnn.json"


def _npy_bytes(array):
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def _compile_settings(model):
    """compile()'s settings with the optimizer as it stands now: a callback may have changed its learning rate."""
    if not model.loss:
        return None
    optimizer = {"class_name": type(model.optimizer).__name__, "config": model.optimizer.get_config()}
    return {**getattr(model, "_compile_config", {}), "optimizer": optimizer}


def save_model(model, filepath):
    model._require_built("save")
    iterations, slots = model.optimizer.get_state() if model.optimizer else (0, [])
    meta = {"format": FORMAT, "version": VERSION, "config": model.get_config(),
            "compile": _compile_settings(model),
            "weights": len(model.weights), "optimizer": {"iterations": iterations, "slots": len(slots)},
            "rng": None if model.rng is None else model.rng.bit_generator.state, "metadata": model.metadata}

    def write(file):
        with zipfile.ZipFile(file, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(DESCRIPTION, json.dumps(meta, indent=1))
            for index, weight in enumerate(model.weights):
                archive.writestr(f"weights/{index:04d}.npy", _npy_bytes(weight.value))
            for index, array in enumerate(slots):
                archive.writestr(f"optimizer/{index:04d}.npy", _npy_bytes(array))

    write_atomically(filepath, write)


def _archive(filepath, where, kind):
    if not os.path.isfile(filepath):
        raise ClearCNNError(f"{where}: no such file; received filepath={os.fspath(filepath)!r}.")
    return safe_archive(filepath, where, kind)


def _description(archive, where):
    """clearcnn.json, every member checked for its type before anything is built from it."""
    label = f"{where}: {archive.filename!r}"
    if DESCRIPTION not in archive.namelist():
        raise ClearCNNError(f"{label} is not a clearcnn model file (it has no {DESCRIPTION}).")
    meta = read_json(archive, DESCRIPTION, where)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("version") != VERSION:
        meta = meta if isinstance(meta, dict) else {}
        raise ClearCNNError(f"{label} has format {meta.get('format')!r} version {meta.get('version')!r}; this "
                            f"clearcnn reads {FORMAT!r} version {VERSION}.")
    optimizer = meta.get("optimizer") if isinstance(meta.get("optimizer"), dict) else {}
    members = (("config", meta.get("config"), dict), ("weights", meta.get("weights"), int),
               ("optimizer", meta.get("optimizer"), dict), ("optimizer.iterations", optimizer.get("iterations"), int),
               ("optimizer.slots", optimizer.get("slots"), int), ("compile", meta.get("compile"), (dict, type(None))),
               ("rng", meta.get("rng"), (dict, type(None))), ("metadata", meta.get("metadata"), (dict, type(None))))
    for key, value, kind in members:
        if not (is_int(value, 0) and value < 2**63 if kind is int else isinstance(value, kind)):
            wanted = "a non-negative integer" if kind is int else "an object" if kind is dict else "an object or null"
            raise ClearCNNError(f"{label} holds an invalid {DESCRIPTION}: `{key}` must be {wanted}; received "
                                f"{str(value)[:80]!r}.")
    return meta


def load_model(filepath, compile=True):
    """Rebuild a model saved by model.save: same predictions, and training continues where it stopped."""
    where = "load_model"
    with _archive(filepath, where, "a clearcnn model file") as archive:
        meta = _description(archive, where)
        label = f"{where}: {archive.filename!r}"
        try:
            # every weights member the description declares, before the architecture allocates what they hold
            names = [f"weights/{i:04d}.npy" for i in range(min(meta["weights"], len(archive.NameToInfo) + 1))]
            missing = next((name for name in names if name not in archive.NameToInfo), None)
            if missing is not None:
                raise ClearCNNError(f"{label} is incomplete: it declares {meta['weights']} weights and has no member {missing}.")
            budget = unpacked_bound(archive, names)
            model = registry.lookup("Sequential", kind="model").from_config(meta["config"], max_weight_bytes=budget)
        except ClearCNNError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError) as error:
            raise ClearCNNError(f"{label} holds an invalid architecture ({error!r}).") from None
        if meta["weights"] != len(model.weights):
            raise ClearCNNError(f"{label} is damaged: it declares {meta['weights']} weights for an architecture "
                                f"with {len(model.weights)}.")
        weights = [read_npy(archive, f"weights/{i:04d}.npy", w.shape, where) for i, w in enumerate(model.weights)]
        iterations, slots = meta["optimizer"]["iterations"], []
        if compile and meta.get("compile"):
            try:
                model.compile(**meta["compile"])
                if meta.get("rng"):
                    model.rng.bit_generator.state = meta["rng"]
            except ClearCNNError:
                raise
            except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as error:
                raise ClearCNNError(f"{label} holds invalid compile settings ({error!r}).") from None
            shapes = [w.shape for w in model.trainable_weights for _ in model.optimizer.slot_names]
            if meta["optimizer"]["slots"] not in (0, len(shapes)):
                raise ClearCNNError(f"{label} holds {meta['optimizer']['slots']} optimizer arrays; this model's "
                                    f"{type(model.optimizer).__name__} needs {len(shapes)}.")
            if meta["optimizer"]["slots"]:
                slots = [read_npy(archive, f"optimizer/{i:04d}.npy", shape, where) for i, shape in enumerate(shapes)]
    model.set_weights(weights)  # everything is checked: now the model changes, all at once
    if slots:
        model.optimizer.set_state(model.trainable_weights, iterations, slots)
    if model.optimizer is not None:
        model.optimizer.iterations = iterations
    model.metadata = meta.get("metadata") or {}
    return model


def save_weights(model, filepath):
    """Weights only, as an .npz of arrays keyed by position and name (no pickle); loaded by position."""
    model._require_built("save_weights")
    arrays = {f"{index:04d}|{weight.name}": weight.value for index, weight in enumerate(model.weights)}
    write_atomically(filepath, lambda file: np.savez(file, **arrays))


def load_weights(model, filepath):
    """Weights saved by save_weights (an .npz), or the weights of a model file, matched by position (as Keras
    does); every array is checked before any is assigned."""
    where = "load_weights"
    with _archive(filepath, where, "a weights file (.npz) or a clearcnn model file") as archive:
        names = archive.namelist()
        whole_model = DESCRIPTION in names
        if whole_model:
            names = [name for name in names if name.startswith("weights/")]
        if len(names) != len(model.weights):
            hint = (f"; it is a whole model file: load_model({archive.filename!r}) rebuilds the model it was "
                    f"saved from") if whole_model else ""
            raise ClearCNNError(f"{where}: {archive.filename!r} holds {len(names)} weight arrays; this model has "
                                f"{len(model.weights)}{hint}.")
        arrays = [read_npy(archive, name, w.shape, where) for name, w in zip(sorted(names), model.weights)]
    model.set_weights(arrays)
