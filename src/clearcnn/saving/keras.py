"""Keras files in and out, with NumPy and h5py only: Keras 3 `.keras` archives and `.weights.h5` files,
and the legacy `.h5` format (read).

A `.keras` file is a zip of `config.json` (the architecture), `metadata.json` and `model.weights.h5`, where
each layer's arrays sit at `layers/<key>/vars/<i>`; `<key>` is the layer's class name in snake case,
numbered in model order (conv2d, conv2d_1, ...), not the layer's own name. Reading is safe: nothing in a
file is executed, and archives with absolute or `..` member names are refused.

api.py chooses the format by the file's name; clearcnn classes come from clearcnn.registry.
"""
import datetime
import inspect
import io
import json
import os
import zipfile

import numpy as np

from .. import registry
from ..errors import ClearCNNError
from ..utils import to_snake_case
from .files import DAMAGE, safe_archive, write_atomically

# Registered layer names that Keras files may not use: Keras's `Input` is a function, never a class name in a
# config, and a bare base `Layer` (it passes its input through) is for clearcnn's own files. Every other registered
# layer name, aliases included, is read from Keras files.
NOT_KERAS_LAYERS = ("Input", "Layer")
INITIALIZER_NAMES = {"GlorotUniform": "glorot_uniform", "GlorotNormal": "glorot_normal", "HeNormal": "he_normal",
                     "HeUniform": "he_uniform", "Zeros": "zeros", "Ones": "ones", "LecunNormal": "lecun_normal"}
KERAS_VERSION = "3.15.1"  # the format version written; Keras reads it to choose compatibility rules


def _h5py(where):
    try:
        import h5py
    except ImportError:
        raise ClearCNNError(f'{where}: Keras files need h5py: pip install "clearcnn[keras]"') from None
    return h5py


def weight_keys(model):
    """[(layer, key)] in model order, with Keras's numbering of repeated class names."""
    counts, result = {}, []
    for layer in model.layers:
        base = to_snake_case(type(layer).__name__)
        index = counts.get(base, 0)
        counts[base] = index + 1
        result.append((layer, base if index == 0 else f"{base}_{index}"))
    return result


# --- reading ---------------------------------------------------------------------------------------

def _plain(value, where, option):
    """Keras writes dtypes, initializers and activations either as strings or as {class_name, config} dicts."""
    if isinstance(value, dict):
        if option == "dtype":
            return (value.get("config") or {}).get("name", "float32")
        if option.endswith("initializer"):
            name = INITIALIZER_NAMES.get(value.get("class_name"))
            if name is None:
                raise ClearCNNError(f"{where}: option `{option}` names an initializer clearcnn does not have: "
                                    f"{value.get('class_name')!r}.")
            return name
        if option == "activation" and isinstance(value.get("config"), str):
            return value["config"]
        raise ClearCNNError(f"{where}: option `{option}` holds {value.get('class_name', value)!r}, which "
                            f"clearcnn cannot read.")
    return value


def _accepted(cls):
    names = set()
    for klass in cls.__mro__:
        if "__init__" in vars(klass):
            names |= {p for p in inspect.signature(klass.__init__).parameters if p not in ("self", "kwargs", "unknown")}
    return names


def layer_from_keras(entry):
    """A clearcnn layer from one entry of a Keras config; unsupported layers or options raise ClearCNNError."""
    if not isinstance(entry, dict) or not isinstance(entry.get("config", {}), (dict, type(None))):
        raise ClearCNNError(f"Keras file: the config holds an invalid layer entry ({str(entry)[:80]!r}).")
    class_name = entry.get("class_name")
    cls = None if class_name in NOT_KERAS_LAYERS else registry.lookup(class_name, kind="layer")
    if cls is None:
        supported = sorted(set(registry.registered("layer")) - set(NOT_KERAS_LAYERS))
        raise ClearCNNError(f"Keras file: layer {class_name!r} is not supported; clearcnn reads "
                            f"{', '.join(supported)}.")
    config = dict(entry.get("config") or {})
    where = f"Keras file, layer {config.get('name', class_name)!r} ({class_name})"
    accepted = _accepted(cls)
    kwargs = {}
    for option, value in config.items():
        value = _plain(value, where, option)
        if option in accepted:
            kwargs[option] = value
        elif value not in (None, False, 0, [], {}):  # a feature clearcnn lacks, switched on
            raise ClearCNNError(f"{where}: option `{option}` is not supported (received {option}={value!r}).")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as error:  # ClearCNNError, a missing option, a dtype numpy does not know
        raise ClearCNNError(f"{where}: {error}") from None


def model_from_keras_config(config):
    if not isinstance(config, dict) or config.get("class_name") != "Sequential":
        raise ClearCNNError(f"Keras file: only Sequential models are supported; received "
                            f"{config.get('class_name') if isinstance(config, dict) else str(config)[:80]!r}.")
    inner = config.get("config") or {}
    if not isinstance(inner, dict) or not isinstance(inner.get("layers") or [], list):
        raise ClearCNNError("Keras file: the config of the Sequential model is invalid (no list of layers).")
    model = registry.lookup("Sequential", kind="model")(name=inner.get("name"))
    entries = inner.get("layers") or []
    for entry in entries:
        model.add(layer_from_keras(entry))
    if not model.built:
        shape = (config.get("build_config") or {}).get("input_shape") or inner.get("build_input_shape")
        if shape is None:
            raise ClearCNNError("Keras file: the model has no input shape; clearcnn needs a built model.")
        if not isinstance(shape, (list, tuple)):
            raise ClearCNNError(f"Keras file: the model's input shape must be a list; received {shape!r}.")
        model.build(tuple(shape))
    return model


def load_model(path):
    """A clearcnn Sequential from a Keras 3 `.keras` file."""
    where = "load_model"
    archive = safe_archive(path, where)
    with archive:
        try:
            config = json.loads(archive.read("config.json"))
            weights = archive.read("model.weights.h5")
        except (KeyError, *DAMAGE) as error:  # DAMAGE holds zlib.error: a corrupt deflated member
            raise ClearCNNError(f"{where}: {os.fspath(path)!r} is not a complete Keras archive ({error}).") from None
    model = model_from_keras_config(config)
    _read_weights_h5(model, io.BytesIO(weights), f"{os.fspath(path)}:model.weights.h5")
    return model


def _open_h5(source, label):
    h5py = _h5py("Keras file")
    try:
        return h5py.File(source, "r")
    except (OSError, ValueError) as error:
        raise ClearCNNError(f"Keras file: {label!r} is not an HDF5 weights file, or it is corrupt ({error}).") from None


def _damaged(label, error):
    return ClearCNNError(f"Keras file: {label!r} is damaged, or not a Keras model or weights file ({error!r}).")


def _read_weights_h5(model, source, label):
    with _open_h5(source, label) as file:
        try:
            if "model_weights" in file or "layer_names" in file.attrs:
                arrays = _legacy_arrays(file, model, label)
            else:
                arrays = _keras3_arrays(file, model, label)
        except ClearCNNError:
            raise
        except (KeyError, TypeError, AttributeError, *DAMAGE) as error:  # a missing or mangled group or dataset
            raise _damaged(label, error) from None
    model.set_weights(arrays)


def _keras3_arrays(file, model, label):
    arrays = []
    for layer, key in weight_keys(model):
        group = file.get(f"layers/{key}/vars")
        count = len(layer.weights)
        if count and group is None:
            raise ClearCNNError(f"Keras file: {label!r} has no weights for layer {layer.name!r} (looked for "
                                f"layers/{key}/vars); the architectures differ.")
        stored = 0 if group is None else len(group)
        if stored != count:
            raise ClearCNNError(f"Keras file: {label!r} holds {stored} arrays for layer {layer.name!r} "
                                f"({key}); the layer needs {count}.")
        arrays += [np.asarray(group[str(i)]) for i in range(count)]
    return arrays


def _legacy_arrays(file, model, label):
    root = file["model_weights"] if "model_weights" in file else file
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in root.attrs.get("layer_names", [])]
    groups = []
    for name in names:
        weight_names = [w.decode() if isinstance(w, bytes) else str(w) for w in root[name].attrs.get("weight_names", [])]
        if weight_names:
            groups.append((name, [np.asarray(root[name][w]) for w in weight_names]))
    layers = [layer for layer in model.layers if layer.weights]
    if len(groups) != len(layers):
        raise ClearCNNError(f"Keras file: {label!r} holds weights for {len(groups)} layers; this model has "
                            f"{len(layers)} layers with weights.")
    return [array for _, arrays in groups for array in arrays]


def load_legacy_model(path):
    """A clearcnn Sequential from a legacy Keras `.h5` model file."""
    with _open_h5(path, os.fspath(path)) as file:
        raw = file.attrs.get("model_config")
        if raw is None:
            raise ClearCNNError(f"load_model: {os.fspath(path)!r} holds weights only; build the model and use "
                                f"model.load_weights instead.")
        try:
            config = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
            model = model_from_keras_config(config)
            arrays = _legacy_arrays(file, model, os.fspath(path))
        except ClearCNNError:
            raise
        except (KeyError, TypeError, AttributeError, *DAMAGE) as error:
            raise _damaged(os.fspath(path), error) from None
        model.set_weights(arrays)
    return model


def load_weights(model, path):
    """Keras 3 `.weights.h5` or legacy `.h5` weights, matched by layer order as Keras does."""
    if not os.path.isfile(path):
        raise ClearCNNError(f"load_weights: no such file; received filepath={os.fspath(path)!r}.")
    _read_weights_h5(model, path, os.fspath(path))


# --- writing ---------------------------------------------------------------------------------------

def _keras_value(option, value):
    if option == "dtype":
        return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": value}, "registered_name": None}
    if option.endswith("initializer"):
        name = value if isinstance(value, str) else value["class_name"]
        class_name = {v: k for k, v in INITIALIZER_NAMES.items()}.get(name, name)
        seed = None if isinstance(value, str) else (value.get("config") or {}).get("seed")
        return {"module": "keras.initializers", "class_name": class_name, "config": {"seed": seed} if class_name
                not in ("Zeros", "Ones") else {}, "registered_name": None}
    if isinstance(value, tuple):
        return [_keras_value(option, v) for v in value]
    return value


def keras_config(model):
    """The Keras 3 config.json of a clearcnn Sequential."""
    model._require_built("save")
    input_shape = list(model.input_shape)
    entries = [{"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
                "config": {"batch_shape": input_shape, "dtype": model.dtype, "sparse": False, "name": "input_layer"}}]
    for layer, in_shape, _ in model.layer_shapes():
        config = {k: _keras_value(k, v) for k, v in layer.get_config().items() if k != "batch_input_shape"}
        if isinstance(config.get("padding"), list):
            raise ClearCNNError(f"save: {layer.where} uses explicit padding {layer.padding}, which Keras's "
                                f"{type(layer).__name__} cannot express; use \"valid\" or \"same\" to write a "
                                f"Keras file.")
        entries.append({"module": "keras.layers", "class_name": type(layer).__name__, "config": config,
                        "registered_name": None, "build_config": {"input_shape": list(in_shape)}})
    return {"module": "keras", "class_name": "Sequential", "registered_name": None,
            "config": {"name": model.name, "trainable": True, "dtype": _keras_value("dtype", model.dtype),
                       "layers": entries},
            "build_config": {"input_shape": input_shape}}


def _weights_h5_bytes(model):
    h5py = _h5py("save")
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as file:
        for layer, key in weight_keys(model):
            group = file.create_group(f"layers/{key}/vars")
            group.attrs["name"] = layer.name
            for index, weight in enumerate(layer.weights):
                group.create_dataset(str(index), data=weight.value)
        file.create_group("vars").attrs["name"] = model.name
    return buffer.getvalue()


def save_model(model, path):
    """A `.keras` file that keras.saving.load_model opens and that predicts the same values."""
    config = json.dumps(keras_config(model))
    weights = _weights_h5_bytes(model)
    metadata = json.dumps({"keras_version": KERAS_VERSION,
                           "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")})

    def write(file):
        with zipfile.ZipFile(file, "w") as archive:
            archive.writestr("metadata.json", metadata)
            archive.writestr("config.json", config)
            archive.writestr("model.weights.h5", weights)

    write_atomically(path, write)


def save_weights(model, path):
    """A Keras 3 `.weights.h5` file."""
    model._require_built("save_weights")
    weights = _weights_h5_bytes(model)
    write_atomically(path, lambda file: file.write(weights))
