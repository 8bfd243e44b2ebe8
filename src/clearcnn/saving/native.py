"""clearcnn's own model file: a zip holding JSON and .npy arrays. Never pickle.

    clearcnn.json        format, version, the architecture, compile settings, optimizer step, RNG state
    weights/0000.npy     every weight, in model.weights order
    optimizer/0000.npy   the optimizer's slots (momentum, Adam's m and v), in order

Every file is written to a temporary file beside the target and renamed into place, so an interrupted
save never destroys the previous file. Reading checks everything and raises ClearCNNError on any damage.

api.py chooses the format by the file's name; the Sequential class comes from clearcnn.registry.
"""
import io
import json
import os
import zipfile

import numpy as np

from .. import registry
from ..errors import ClearCNNError
from .files import DAMAGE, write_atomically

FORMAT, VERSION = "clearcnn", 1


def _npy_bytes(array):
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def save_model(model, filepath):
    model._require_built("save")
    iterations, slots = model.optimizer.get_state() if model.optimizer else (0, [])
    meta = {"format": FORMAT, "version": VERSION, "config": model.get_config(),
            "compile": getattr(model, "_compile_config", None) if model.loss else None,
            "weights": len(model.weights), "optimizer": {"iterations": iterations, "slots": len(slots)},
            "rng": None if model.rng is None else model.rng.bit_generator.state, "metadata": model.metadata}

    def write(file):
        with zipfile.ZipFile(file, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("clearcnn.json", json.dumps(meta, indent=1))
            for index, weight in enumerate(model.weights):
                archive.writestr(f"weights/{index:04d}.npy", _npy_bytes(weight.value))
            for index, array in enumerate(slots):
                archive.writestr(f"optimizer/{index:04d}.npy", _npy_bytes(array))

    write_atomically(filepath, write)


def _open(filepath):
    filepath = os.fspath(filepath)
    if not os.path.isfile(filepath):
        raise ClearCNNError(f"load_model: no such file; received filepath={filepath!r}.")
    try:
        archive = zipfile.ZipFile(filepath)
    except DAMAGE as error:
        raise ClearCNNError(f"load_model: {filepath!r} is not a clearcnn model file, or it is truncated or "
                            f"corrupt ({error}).") from None
    try:
        meta = json.loads(archive.read("clearcnn.json"))  # JSONDecodeError and UnicodeDecodeError are ValueErrors
    except (KeyError, *DAMAGE) as error:
        archive.close()
        raise ClearCNNError(f"load_model: {filepath!r} is not a clearcnn model file, or it is truncated or "
                            f"corrupt ({error}).") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("version") != VERSION:
        archive.close()
        meta = meta if isinstance(meta, dict) else {}
        raise ClearCNNError(f"load_model: {filepath!r} has format {meta.get('format')!r} version "
                            f"{meta.get('version')!r}; this clearcnn reads {FORMAT!r} version {VERSION}.")
    return archive, meta


def _arrays(archive, folder, count, filepath):
    arrays = []
    for index in range(count):
        name = f"{folder}/{index:04d}.npy"
        try:
            arrays.append(np.load(io.BytesIO(archive.read(name)), allow_pickle=False))
        except (KeyError, *DAMAGE) as error:
            raise ClearCNNError(f"load_model: {filepath!r} is damaged: member {name} cannot be read "
                                f"({error}).") from None
    return arrays


def load_model(filepath, compile=True):
    """Rebuild a model saved by model.save: same predictions, and training continues where it stopped."""
    archive, meta = _open(filepath)
    with archive:
        try:
            model = registry.lookup("Sequential", kind="model").from_config(meta["config"])
            weight_count = int(meta["weights"])
            slot_count, iterations = int(meta["optimizer"]["slots"]), int(meta["optimizer"]["iterations"])
        except ClearCNNError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ClearCNNError(f"load_model: {filepath!r} holds an invalid architecture ({error!r}).") from None
        model.set_weights(_arrays(archive, "weights", weight_count, filepath))
        model.metadata = meta.get("metadata") or {}
        if compile and meta.get("compile"):
            try:
                model.compile(**meta["compile"])
                if meta.get("rng"):
                    model.rng.bit_generator.state = meta["rng"]
            except ClearCNNError:
                raise
            except (TypeError, ValueError, KeyError) as error:
                raise ClearCNNError(f"load_model: {filepath!r} holds invalid compile settings "
                                    f"({error!r}).") from None
            slots = _arrays(archive, "optimizer", slot_count, filepath)
            if slots:
                model.optimizer.set_state(model.trainable_weights, iterations, slots)
            model.optimizer.iterations = iterations
    return model


def save_weights(model, filepath):
    """Weights only, as an .npz of arrays keyed by position and name (no pickle); loaded by position."""
    model._require_built("save_weights")
    arrays = {f"{index:04d}|{weight.name}": weight.value for index, weight in enumerate(model.weights)}
    write_atomically(filepath, lambda file: np.savez(file, **arrays))


def load_weights(model, filepath):
    """Weights saved by save_weights, matched by position (as Keras does), shapes checked."""
    filepath = os.fspath(filepath)
    try:
        with np.load(filepath, allow_pickle=False) as data:
            arrays = [data[key] for key in sorted(data.files)]
    except FileNotFoundError:
        raise ClearCNNError(f"load_weights: no such file; received filepath={filepath!r}.") from None
    except (AttributeError, TypeError, *DAMAGE) as error:  # a bare .npy has no .files and no `with`
        raise ClearCNNError(f"load_weights: {filepath!r} is not a weights file, or it is corrupt ({error}).") from None
    model.set_weights(arrays)
