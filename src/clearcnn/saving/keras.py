"""Keras files in and out, with NumPy and h5py only: Keras 3 `.keras` archives and `.weights.h5` files,
and the legacy `.h5` format (read).

A `.keras` file is a zip of `config.json` (the architecture), `metadata.json` and `model.weights.h5`, where
each layer's arrays sit at `layers/<key>/vars/<i>`; `<key>` is the layer's class name in snake case,
numbered in model order (conv2d, conv2d_1, ...), not the layer's own name. Reading is safe: nothing in a
file is executed, archives with absolute or `..` member names are refused, nothing outside the file is read
and no array is read before its storage, type and shape are checked (see _array).

api.py chooses the format by the file's name; clearcnn classes come from clearcnn.registry.
"""
import datetime
import inspect
import io
import json
import math
import mmap
import os
import zipfile

from .. import constraints, initializers, registry, regularizers
from ..errors import ClearCNNError
from ..utils import to_snake_case
from . import h5_names, keras_compile
from .files import DAMAGE, check_declared, parse_json, read_json, read_member, safe_archive, unpacked_bound, write_atomically

# Registered layer names that Keras files may not use: Keras's `Input` is a function, never a class name in a
# config, and a bare base `Layer` (it passes its input through) is for clearcnn's own files. Every other registered
# layer name, aliases included, is read from Keras files.
NOT_KERAS_LAYERS = ("Input", "Layer")
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
            if initializers.lookup(value.get("class_name")) is None:
                raise ClearCNNError(f"{where}: option `{option}` names an initializer clearcnn does not have: "
                                    f"{value.get('class_name')!r}; clearcnn has {', '.join(initializers.INITIALIZERS)}.")
            return {"class_name": value["class_name"], "config": value.get("config") or {}}
        kinds = {"regularizer": regularizers, "constraint": constraints}
        kind = next((k for k in kinds if option.endswith(k)), None)
        if kind is not None:
            if kinds[kind].lookup(value.get("class_name")) is None:
                raise ClearCNNError(f"{where}: option `{option}` names a {kind} clearcnn does not have: "
                                    f"{value.get('class_name')!r}.")
            return {"class_name": value["class_name"], "config": value.get("config") or {}}
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


def model_from_keras_config(config, max_weight_bytes=None):
    """The Sequential a Keras config describes; an architecture whose weights would take more than
    `max_weight_bytes` (what the file can hold) is refused before any weight is allocated."""
    if not isinstance(config, dict) or config.get("class_name") != "Sequential":
        raise ClearCNNError(f"Keras file: only Sequential models are supported; received "
                            f"{config.get('class_name') if isinstance(config, dict) else str(config)[:80]!r}.")
    inner = config.get("config") or {}
    if not isinstance(inner, dict) or not isinstance(inner.get("layers") or [], list):
        raise ClearCNNError("Keras file: the config of the Sequential model is invalid (no list of layers).")
    sequential = registry.lookup("Sequential", kind="model")
    model = sequential(name=inner.get("name"))
    layers = [layer_from_keras(entry) for entry in inner.get("layers") or []]
    sequential.check_weight_bytes(layers, max_weight_bytes)
    for layer in layers:
        model.add(layer)
    if not model.built:
        shape = (config.get("build_config") or {}).get("input_shape") or inner.get("build_input_shape")
        if shape is None:
            raise ClearCNNError("Keras file: the model has no input shape; clearcnn needs a built model.")
        if not isinstance(shape, (list, tuple)):
            raise ClearCNNError(f"Keras file: the model's input shape must be a list; received {shape!r}.")
        model.build(tuple(shape))
    return model


# Weights reach the model only from inside the file: through hard links and soft links (HDF5 follows at most 16
# soft links per name, as here), from datasets whose data lie in the file, uncompressed (a compressed chunk expands
# without bound inside HDF5, and Keras never compresses weights), in chunks no larger than the data, of plain
# numbers in the shape the layer needs.
MAX_SOFT_LINKS = 16
MANGLED = (AttributeError, IndexError, *DAMAGE)  # and a value of the wrong type where a config or a file nests
HARMLESS_FILTERS = (2, 3)  # h5z.FILTER_SHUFFLE and FILTER_FLETCHER32: they reorder and checksum, never expand


def _read_archive_weights(model, archive, where, optimizer=False):
    """The archive's model.weights.h5 into the model, read no further than the model can need: its weights and
    the optimizer's slots (Keras keeps both there; with `optimizer`, they are restored too), up to float64, and
    HDF5's own records."""
    limit = 8 * sum(w.value.nbytes for w in model.weights) + 2**20 + 2**16 * len(model.weights)
    weights = read_member(archive, "model.weights.h5", limit, where)
    _read_weights_h5(model, io.BytesIO(weights), f"{archive.filename}:model.weights.h5", optimizer=optimizer)


def load_model(path, compile=True):
    """A clearcnn Sequential from a Keras 3 `.keras` file; with `compile`, compiled as the file's compile_config
    says, its optimizer's state restored (see keras_compile.py)."""
    with safe_archive(path, "load_model") as archive:
        config = read_json(archive, "config.json", "load_model")
        try:
            model = model_from_keras_config(config, unpacked_bound(archive, ["model.weights.h5"]))
        except ClearCNNError:
            raise
        except MANGLED as error:
            raise ClearCNNError(f"load_model: {archive.filename!r}: config.json is invalid ({error!r}).") from None
        compiled = compile and keras_compile.compile_from_config(model, config.get("compile_config"),
                                                                 repr(archive.filename))
        _read_archive_weights(model, archive, "load_model", optimizer=compiled)
    return model


def _global_heaps_advance(data):
    """Whether every object in every global heap collection of the HDF5 file `data` (bytes or an mmap) moves
    forward within its collection. Variable-length strings live there, and libhdf5 loops forever on an object
    that does not (a free-space record of size 0), so a file is checked before HDF5 reads a string from it."""
    # The superblock, where HDF5 looks for it (at 0, 512, 1024, ...), says how many bytes a length takes.
    start = next((at for at in (0, *(512 << k for k in range(48))) if data[at:at + 8] == b"\x89HDF\r\n\x1a\n"), None)
    if start is None or start + 16 > len(data):
        return True  # not HDF5: h5py says so
    length = data[start + (14 if data[start + 8] < 2 else 10)]
    at = data.find(b"GCOL\x01\0\0\0")  # a collection: signature, version 1, 3 reserved bytes, then its size
    while at >= 0:
        position = at + 8 + length
        end = min(at + int.from_bytes(data[position - length:position], "little"), len(data))
        while position + 8 + length <= end:  # objects: index (2 bytes), references (2), reserved (4), size
            size = int.from_bytes(data[position + 8:position + 8 + length], "little")
            step = 8 + length + -(-size // 8) * 8 if data[position:position + 2] != b"\0\0" else size
            if step == 0 or position + step > end:
                return False
            position += step
        at = data.find(b"GCOL\x01\0\0\0", at + 4)
    return True


def _open_h5(source, label):
    h5py = _h5py("Keras file")
    try:
        if isinstance(source, io.BytesIO):
            whole = _global_heaps_advance(source.getvalue())
        else:
            with open(source, "rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
                whole = _global_heaps_advance(data)
        if not whole:
            raise ValueError("a global heap object does not fit its collection")
        return h5py.File(source, "r")
    except DAMAGE as error:
        raise ClearCNNError(f"Keras file: {label!r} is not an HDF5 weights file, or it is corrupt ({error}).") from None


def _damaged(label, error):
    return ClearCNNError(f"Keras file: {label!r} is damaged, or not a Keras model or weights file ({error!r}).")


def _read_weights_h5(model, source, label, legacy_allowed=False, optimizer=False):
    """Every array checked (see _array) before one set_weights call assigns them all. The legacy layout is read
    from legacy `.h5` files only, as Keras 3 does; its names are read apart (see h5_names)."""
    with _open_h5(source, label) as file:
        try:
            if legacy_allowed and (_inside(file, "model_weights", label) is not None or "layer_names" in file.attrs):
                arrays = _legacy_arrays(file, model, label, _legacy_names(source, label, with_config=False))
            else:
                arrays = _keras3_arrays(file, model, label)
            state = keras_compile.read_optimizer_state(
                model, lambda name, shape, probe=False: _inside(file, name, label) if probe else
                _array(file, name, shape, label), label) if optimizer else None
        except ClearCNNError:
            raise
        except MANGLED as error:  # a missing or mangled group, dataset or attribute
            raise _damaged(label, error) from None
    model.set_weights(arrays)
    keras_compile.restore_optimizer_state(model, state)


def _inside(group, path, label):
    """The object at `path` from `group`, or None where a name is missing; a link to another file is refused."""
    h5py = _h5py("Keras file")
    followed = 0

    def walk(node, path):
        nonlocal followed
        for part in (p for p in path.split("/") if p):
            if not isinstance(node, h5py.Group):
                return None
            link = node.get(part, getlink=True)
            if isinstance(link, h5py.SoftLink):
                followed += 1
                if followed > MAX_SOFT_LINKS:
                    raise ClearCNNError(f"Keras file: {label!r}: soft links at {node.name}/{part} go round in a "
                                        f"circle.")
                node = walk(node.file if link.path.startswith("/") else node, link.path)
            elif isinstance(link, h5py.HardLink):
                node = node[part]
            elif link is None:
                return None
            else:
                raise ClearCNNError(f"Keras file: {label!r}: {node.name.rstrip('/')}/{part} links to another file "
                                    f"({getattr(link, 'filename', 'a user-defined link')}); clearcnn reads nothing "
                                    f"outside the file it opens.")
        return node

    return walk(group.file if path.startswith("/") else group, path)


def _array(group, name, shape, label):
    """The dataset `name` in `group` as an array of `shape`, checked before a byte of it is read."""
    h5py = _h5py("Keras file")
    dataset = _inside(group, name, label)
    where = f"Keras file: {label!r}, dataset {group.name.rstrip('/')}/{name}"
    if not isinstance(dataset, h5py.Dataset):
        raise ClearCNNError(f"{where} is missing; the file is damaged or holds another architecture.")
    plist = dataset.id.get_create_plist()
    if plist.get_layout() not in (h5py.h5d.COMPACT, h5py.h5d.CONTIGUOUS, h5py.h5d.CHUNKED) \
            or plist.get_external_count():
        raise ClearCNNError(f"{where} keeps its data in other files (external storage or a virtual dataset); "
                            f"clearcnn reads nothing outside the file it opens.")
    filters = [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]
    if any(f not in HARMLESS_FILTERS for f in filters):
        raise ClearCNNError(f"{where} is compressed (HDF5 filters {filters}); Keras writes weights uncompressed, "
                            f"and clearcnn reads them so: `h5repack -f NONE` writes an uncompressed copy.")
    try:
        dtype = dataset.dtype
    except TypeError:  # an HDF5 type without a NumPy equivalent
        raise ClearCNNError(f"{where} holds values of a type that is not plain numbers.") from None
    check_declared(dtype, dataset.shape or (), shape, where)
    if dataset.chunks and math.prod(dataset.chunks) > math.prod(shape):  # a filter holds a whole chunk in memory
        raise ClearCNNError(f"{where} is stored in chunks of shape {dataset.chunks}, larger than its data.")
    return dataset[()]


def _keras3_arrays(file, model, label):
    arrays = []
    for layer, key in weight_keys(model):
        group = _inside(file, f"layers/{key}/vars", label)
        count = len(layer.weights)
        if count and group is None:
            raise ClearCNNError(f"Keras file: {label!r} has no weights for layer {layer.name!r} (looked for "
                                f"layers/{key}/vars); the architectures differ, or the file has the legacy "
                                f"layout, which is read from files ending in .h5.")
        stored = 0 if group is None else len(group)
        if stored != count:
            raise ClearCNNError(f"Keras file: {label!r} holds {stored} arrays for layer {layer.name!r} "
                                f"({key}); the layer needs {count}.")
        arrays += [_array(group, str(i), weight.shape, label) for i, weight in enumerate(layer.weights)]
    return arrays


def _legacy_names(path, label, with_config):
    try:
        return h5_names.read_legacy_names(path, with_config)
    except ValueError as error:
        raise _damaged(label, error) from None


def _legacy_arrays(file, model, label, names):
    root = _inside(file, "model_weights", label) or file
    groups = []
    for name, weight_names in zip(names["layer_names"], names["weight_names"]):
        group = _inside(root, name, label)
        if group is None:
            raise KeyError(f"no group {name!r} for a layer named in layer_names")
        if weight_names:
            groups.append((group, weight_names))
    layers = [layer for layer in model.layers if layer.weights]
    if len(groups) != len(layers):
        raise ClearCNNError(f"Keras file: {label!r} holds weights for {len(groups)} layers; this model has "
                            f"{len(layers)} layers with weights.")
    arrays = []
    for layer, (group, weight_names) in zip(layers, groups):
        if len(weight_names) != len(layer.weights):
            raise ClearCNNError(f"Keras file: {label!r} holds {len(weight_names)} arrays for layer {layer.name!r}; "
                                f"the layer needs {len(layer.weights)}.")
        arrays += [_array(group, w, weight.shape, label) for w, weight in zip(weight_names, layer.weights)]
    return arrays


def load_legacy_model(path):
    """A clearcnn Sequential from a legacy Keras `.h5` model file."""
    label = os.fspath(path)
    with _open_h5(path, label) as file:
        names = _legacy_names(path, label, with_config=True)
        try:
            if names["model_config"] is None:
                raise ClearCNNError(f"load_model: {label!r} holds weights only; build the model and use "
                                    f"model.load_weights instead.")
            model = model_from_keras_config(parse_json(names["model_config"], f"load_model: {label!r}: model_config"),
                                            os.path.getsize(path))
            arrays = _legacy_arrays(file, model, label, names)
        except ClearCNNError:
            raise
        except MANGLED as error:
            raise _damaged(label, error) from None
    model.set_weights(arrays)
    return model


def load_weights(model, path):
    """Keras 3 `.weights.h5` or legacy `.h5` weights, or the weights inside a `.keras` archive, matched by layer
    order as Keras does."""
    if not os.path.isfile(path):
        raise ClearCNNError(f"load_weights: no such file; received filepath={os.fspath(path)!r}.")
    if os.fspath(path).endswith(".keras"):
        with safe_archive(path, "load_weights") as archive:
            _read_archive_weights(model, archive, "load_weights")
    else:
        _read_weights_h5(model, path, os.fspath(path), legacy_allowed=not os.fspath(path).endswith(".weights.h5"))


# --- writing ---------------------------------------------------------------------------------------

def _keras_value(option, value):
    if option == "dtype":
        return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": value}, "registered_name": None}
    if option.endswith("initializer"):
        initializer = initializers.get(value, "save", option)
        return {"module": "keras.initializers", "class_name": type(initializer).__name__,
                "config": initializer.get_config(), "registered_name": None}
    for kind in ("regularizer", "constraint"):
        if option.endswith(kind) and isinstance(value, dict):
            return {"module": f"keras.{kind}s", **value, "registered_name": None}
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
            "build_config": {"input_shape": input_shape}, "compile_config": keras_compile.compile_config(model)}


def _weights_h5_bytes(model, optimizer=False):
    h5py = _h5py("save")
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as file:
        for layer, key in weight_keys(model):
            group = file.create_group(f"layers/{key}/vars")
            group.attrs["name"] = layer.name
            for index, weight in enumerate(layer.weights):
                group.create_dataset(str(index), data=weight.value)
        file.create_group("vars").attrs["name"] = model.name
        if optimizer:
            keras_compile.write_optimizer_vars(model, file)
    return buffer.getvalue()


def save_model(model, path):
    """A `.keras` file that keras.saving.load_model opens and that predicts the same values."""
    config = json.dumps(keras_config(model))
    weights = _weights_h5_bytes(model, optimizer=True)
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
