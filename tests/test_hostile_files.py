"""Hostile model and weights files, and saves that crash: nothing outside a file is read, no file costs more
memory than its model needs, a failed load changes nothing, a save keeps the file's mode and cleans up after
saves killed mid-write, and mutated files (Hypothesis) load or raise ClearCNNError, in bounded time and memory."""
import io
import json
import os
import stat
import subprocess
import sys
import tempfile
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_keras_files import members as zip_members
from test_keras_files import write_zip

from clearcnn import ClearCNNError
from clearcnn.layers import Conv2D, Dense, Flatten
from clearcnn.models import Sequential, load_model
from clearcnn.saving.keras import keras_config
from clearcnn.utils import set_random_seed

h5py = pytest.importorskip("h5py")

SECONDS, MEGABYTES = 1.0, 50  # what refusing or loading one of these tiny files may cost at most
ZEROS = 64 * 2**20  # a bomb's payload: compresses to about 64 KB


def tiny_model():
    """Conv2D, Flatten, Dense: 4 weights, and Adam's state after one step."""
    set_random_seed(0)
    model = Sequential([Conv2D(2, 3, input_shape=(5, 5, 1), name="conv"), Flatten(name="flat"), Dense(2, name="out")])
    model.compile("adam", "mse")
    rng = np.random.default_rng(0)
    model.fit(rng.normal(size=(4, 5, 5, 1)), rng.normal(size=(4, 2)), batch_size=4, epochs=1, verbose=0)
    return model


def fresh_model():
    """The same architecture, other weights: what a file is loaded into."""
    set_random_seed(1)
    return Sequential([Conv2D(2, 3, input_shape=(5, 5, 1)), Flatten(), Dense(2)])


def write_legacy_h5(model, path):
    """The Keras 2 layout: model_weights/<layer>/<layer>/<weight>:0, named by layer_names and weight_names."""
    with h5py.File(path, "w") as file:
        file.attrs["model_config"] = json.dumps(keras_config(model))
        root = file.create_group("model_weights")
        root.attrs["layer_names"] = [layer.name.encode() for layer in model.layers]
        for layer in model.layers:
            names = [f"{layer.name}/{w.name.split('/')[-1]}:0" for w in layer.weights]
            root.create_group(layer.name).attrs["weight_names"] = [name.encode() for name in names]
            for name, weight in zip(names, layer.weights):
                root[layer.name].create_dataset(name, data=weight.value)


def npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def bounded(load):
    """load()'s result, or the ClearCNNError it raised; any other exception, more than SECONDS or more than
    MEGABYTES of traced memory (NumPy's arrays are traced) fails the test."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        result = load()
    except ClearCNNError as error:
        result = error
    finally:
        elapsed, peak = time.perf_counter() - start, tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert elapsed < SECONDS, f"took {elapsed:.2f} s"
    assert peak < MEGABYTES * 2**20, f"peak memory {peak / 2**20:.0f} MB"
    return result


def refused(load, match):
    result = bounded(load)
    assert isinstance(result, ClearCNNError), f"loaded: {result!r}"
    assert match in str(result), str(result)
    return result


def unchanged(model, before):
    return all(np.array_equal(a, b) for a, b in zip(model.get_weights(), before, strict=True))


# --- the containers of HDF5 weights, each edited with h5py -----------------------------------------

H5_KINDS = ("weights.h5", "keras", "legacy.h5")
# Where the Keras 3 and the legacy layouts keep the Dense layer's kernel, and its bias.
BIAS = {"layers/dense/vars/0": "layers/dense/vars/1", "model_weights/out/out/kernel:0": "model_weights/out/out/bias:0"}


def kernel_of(file):
    """Where this HDF5 file keeps the Dense layer's kernel."""
    return next(name for name in BIAS if file.get(name) is not None)


def h5_file(kind, folder, edit=None):
    """A file of `kind` holding tiny_model(), its HDF5 part changed by edit(h5py.File, folder) when given."""
    model = tiny_model()
    if kind == "weights.h5":
        path = folder / "m.weights.h5"
        model.save_weights(path)
        inner = path
    elif kind == "legacy.h5":
        path = inner = folder / "m.h5"
        write_legacy_h5(model, path)
    else:
        path, inner = folder / "m.keras", folder / "inner.h5"
        model.save(path)
        inner.write_bytes(zip_members(path)["model.weights.h5"])
    if edit is not None:
        with h5py.File(inner, "a") as file:
            edit(file, folder)
    if kind == "keras":
        write_zip(path, {**zip_members(path), "model.weights.h5": inner.read_bytes()})
    return path


def loaders(kind, path):
    """Every way a file of `kind` is read, as (the model it is loaded into, load): into a built model, and
    (where it holds one) as a whole model."""
    model = fresh_model()
    result = [(model, lambda: model.load_weights(path))]
    if kind != "weights.h5":
        result.append((None, lambda: load_model(path)))
    return result


def other_file(folder):
    """An HDF5 file beside the model holding what a hostile file points at: the Dense layer's kernel and bias,
    all sevens, where each container keeps them; and the same kernel as raw bytes."""
    path = folder / "other.h5"
    with h5py.File(path, "w") as file:
        for kernel, bias in BIAS.items():
            file[kernel], file[bias] = np.full((18, 2), 7, "float32"), np.full(2, 7, "float32")
    (folder / "secret.bin").write_bytes(np.full((18, 2), 7, "float32").tobytes())
    return path


def replace_kernel(how):
    """An edit that puts a kernel whose data lie outside the file where the Dense kernel was."""
    def edit(file, folder):
        other = str(other_file(folder).resolve())
        name = kernel_of(file)
        del file[name]
        if how == "external storage":
            file.create_dataset(name, (18, 2), "float32", external=[(str((folder / "secret.bin").resolve()), 0,
                                                                     h5py.h5f.UNLIMITED)])
        elif how == "external link":
            file[name] = h5py.ExternalLink(other, name)
        elif how == "external link to its group":
            parent = name.rsplit("/", 1)[0]
            del file[parent]
            file[parent] = h5py.ExternalLink(other, parent)
        elif how == "soft link to an external link":
            file["elsewhere"] = h5py.ExternalLink(other, name)
            file[name] = h5py.SoftLink("/elsewhere")
        else:
            layout = h5py.VirtualLayout((18, 2), "float32")
            layout[...] = h5py.VirtualSource(other, name, (18, 2))
            file.create_virtual_dataset(name, layout)
    return edit


# --- 1. nothing outside the file ------------------------------------------------------------------

@pytest.mark.parametrize("kind", H5_KINDS)
@pytest.mark.parametrize("how", ["external storage", "external link", "external link to its group",
                                 "soft link to an external link", "virtual dataset"])
def test_hdf5_data_outside_the_file_is_refused(tmp_path, kind, how):
    path = h5_file(kind, tmp_path, replace_kernel(how))
    for model, load in loaders(kind, path):
        before = model.get_weights() if model else None
        error = refused(load, "outside the file")
        assert "dense" in str(error) or "out" in str(error)  # the dataset or link is named
        assert model is None or unchanged(model, before)


@pytest.mark.parametrize("kind", H5_KINDS)
@pytest.mark.parametrize("dtype, message", [("S4", "dtype |S4"), (h5py.string_dtype(), "dtype object"),
                                            ([("a", "f4"), ("b", "i4")], "dtype [('a'"), ("c8", "complex64")])
def test_datasets_that_are_not_plain_numbers_are_refused(tmp_path, kind, dtype, message):
    def edit(file, folder):
        name = kernel_of(file)
        del file[name]
        file.create_dataset(name, (18, 2), dtype)
    path = h5_file(kind, tmp_path, edit)
    for _, load in loaders(kind, path):
        error = refused(load, message)
        assert "kernel" in str(error) or "/0" in str(error)


@pytest.mark.parametrize("kind", H5_KINDS)
@pytest.mark.parametrize("storage, message", [
    ({"compression": "gzip"}, "h5repack -f NONE"), ({"compression": "lzf"}, "h5repack -f NONE"),
    ({"chunks": (100, 100), "maxshape": (None, None), "fletcher32": True}, "larger than its data")])
def test_compressed_or_oversized_chunks_are_refused(tmp_path, kind, storage, message):
    def edit(file, folder):
        name = kernel_of(file)
        data = file[name][()]
        del file[name]
        file.create_dataset(name, data=data, **storage)
    path = h5_file(kind, tmp_path, edit)
    for _, load in loaders(kind, path):
        refused(load, message)


@pytest.mark.parametrize("kind", H5_KINDS)
def test_soft_links_inside_the_file_load_and_loops_are_refused(tmp_path, kind):
    def moved(file, folder):
        name = kernel_of(file)
        file.require_group("kept")
        file.move(name, "/kept/kernel")
        file[name] = h5py.SoftLink("/kept/kernel")
    expected = tiny_model().get_weights()
    model = fresh_model()
    model.load_weights(h5_file(kind, tmp_path, moved))
    assert unchanged(model, expected)

    def loop(file, folder):
        name = kernel_of(file)
        del file[name]
        file[name] = h5py.SoftLink("/a")
        file["a"], file["b"] = h5py.SoftLink("/b"), h5py.SoftLink("/a")
    for _, load in loaders(kind, h5_file(kind, tmp_path, loop)):
        refused(load, "circle")


LOAD_IN_A_CHILD = """
import sys
from clearcnn import ClearCNNError
from clearcnn.models import load_model
try:
    load_model(sys.argv[1])
except ClearCNNError as error:
    print("refused:", error)
"""


def test_a_global_heap_that_would_hang_libhdf5_is_refused(tmp_path):
    """libhdf5 loops forever reading a string from a global heap collection whose free-space record has size 0;
    such a file is refused before HDF5 reads it. Loaded in a child process, so that a regression fails rather
    than hangs."""
    path = tmp_path / "m.h5"
    write_legacy_h5(tiny_model(), path)
    data = bytearray(path.read_bytes())
    position = data.find(b"GCOL") + 16
    while data[position:position + 2] != b"\0\0":  # past the strings, to the free-space record
        position += 16 + -(-int.from_bytes(data[position + 8:position + 16], "little") // 8) * 8
    data[position + 8:position + 16] = bytes(8)
    path.write_bytes(bytes(data))
    result = subprocess.run([sys.executable, "-c", LOAD_IN_A_CHILD, str(path)], capture_output=True, text=True,
                            timeout=30)
    assert "refused:" in result.stdout and "global heap" in result.stdout, result.stdout + result.stderr


def string_descriptors(data):
    """Where the legacy file `data` keeps each variable-length string's descriptor: a 4-byte length, then the
    address of its global heap collection and the object's index there."""
    found, collection = [], data.find(b"GCOL")
    address = collection.to_bytes(8, "little")
    at = data.find(address)
    while at >= 0:
        if 0 < int.from_bytes(data[at + 8:at + 12], "little") < 64 and int.from_bytes(data[at - 4:at], "little"):
            found.append(at - 4)
        at = data.find(address, at + 1)
    return found


def test_a_string_that_declares_gigabytes_is_refused_quickly(tmp_path):
    """libhdf5 allocates and zeroes the length a string's descriptor declares (up to 4 GiB) before it compares it
    with the string it finds; the names and config of a legacy file are therefore read in a child process
    with a memory limit. Every string of the file in turn declares 4 GB."""
    write_legacy_h5(tiny_model(), tmp_path / "m.h5")
    data = (tmp_path / "m.h5").read_bytes()
    descriptors = string_descriptors(data)
    assert len(descriptors) >= 4  # model_config, layer_names, weight_names of two layers
    for at in descriptors:
        path = tmp_path / f"bad{at}.h5"
        path.write_bytes(data[:at] + (4_000_000_000).to_bytes(4, "little") + data[at + 4:])
        for load in (lambda p=path: load_model(p), lambda p=path: fresh_model().load_weights(p)):
            result = bounded(load)  # within SECONDS, whatever libhdf5 does in the child
            assert result is None or isinstance(result, (ClearCNNError, Sequential)), result


# --- 2. bombs: nothing read past what the model needs ----------------------------------------------

def saved(folder, name, member=None, change=None):
    """tiny_model() saved as `name` (its weights alone for an .npz), the zip member `member` replaced by
    change(its bytes) when given."""
    path, model = folder / name, tiny_model()
    (model.save_weights if name.endswith(".npz") else model.save)(path)
    if member is not None:
        members = zip_members(path)
        members[member] = change(members[member])
        write_zip(path, members, zipfile.ZIP_DEFLATED)
    return path


def npy_header(descr, shape):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": descr, "fortran_order": False, "shape": shape})
    return header.getvalue()


def test_a_weights_member_followed_by_zeros_is_refused(tmp_path):
    path = saved(tmp_path, "bomb.clearcnn", "weights/0000.npy", lambda data: data + bytes(ZEROS))
    assert path.stat().st_size < 2**20
    refused(lambda: load_model(path), "weights/0000.npy")
    refused(lambda: fresh_model().load_weights(path), "weights/0000.npy")


@pytest.mark.parametrize("name, member", [("bomb.npz", "0003|out/bias.npy"), ("bomb.keras", "model.weights.h5")])
def test_weights_followed_by_zeros_are_refused(tmp_path, name, member):
    path = saved(tmp_path, name, member, lambda data: data + bytes(ZEROS))
    refused(lambda: fresh_model().load_weights(path), member)
    if name.endswith(".keras"):
        refused(lambda: load_model(path), member)


@pytest.mark.parametrize("name, member", [("spaces.clearcnn", "clearcnn.json"), ("spaces.keras", "config.json")])
def test_json_padded_with_spaces_is_refused(tmp_path, name, member):
    path = saved(tmp_path, name, member, lambda data: b" " * ZEROS + data)
    refused(lambda: load_model(path), member)


def test_deeply_nested_json_is_refused(tmp_path):
    path = saved(tmp_path, "nested.clearcnn", "clearcnn.json",
                 lambda data: data.replace(b'"metadata": {}', b'"metadata": ' + b"[" * 100_000 + b"]" * 100_000))
    refused(lambda: load_model(path), "not valid JSON")


@pytest.mark.parametrize("shape", [(10**6, 10**6), (3, 3, 1, 2, 10**9), ()])
def test_an_npy_header_declaring_another_shape_is_refused_before_allocating(tmp_path, shape):
    path = saved(tmp_path, "huge.clearcnn", "weights/0000.npy", lambda data: npy_header("<f4", shape) + bytes(64))
    refused(lambda: load_model(path), "weights/0000.npy")


@pytest.mark.parametrize("kind", H5_KINDS)
def test_an_hdf5_dataset_declaring_another_shape_is_refused_before_reading(tmp_path, kind):
    def edit(file, folder):
        name = kernel_of(file)
        del file[name]
        file.create_dataset(name, (10**6, 10**6), "float32", chunks=(1000, 1000))  # 4 TB of fill value
    for _, load in loaders(kind, h5_file(kind, tmp_path, edit)):
        refused(load, "(1000000, 1000000)")


@pytest.mark.parametrize("descr", ["|O", "<c16", [("a", "<f4")], ("<f4", (2,)), "<U4", "<M8[s]"])
def test_npy_members_that_are_not_plain_numbers_are_refused(tmp_path, descr):
    path = saved(tmp_path, "odd.clearcnn", "weights/0000.npy", lambda data: npy_header(descr, (3, 3, 1, 2)) + bytes(288))
    refused(lambda: load_model(path), "plain numbers")


# --- 3. a saved file keeps its mode ----------------------------------------------------------------

@pytest.mark.parametrize("name", ["m.clearcnn", "m.keras", "m.weights.h5", "m.npz"])
def test_saving_over_a_file_keeps_its_mode(tmp_path, name):
    model, path = tiny_model(), tmp_path / name
    save = model.save_weights if name.endswith(("weights.h5", ".npz")) else model.save
    save(path)
    for mode in (0o600, 0o640, 0o444):
        os.chmod(path, mode)
        save(path)
        assert stat.S_IMODE(path.stat().st_mode) == mode
    previous = os.umask(0o027)
    try:
        save(tmp_path / f"new-{name}")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / f"new-{name}").stat().st_mode) == 0o640  # a new file: the umask's


# --- 4. a save killed mid-write leaves nothing behind for long -------------------------------------

SAVE_THAT_WAITS = """
import sys
from clearcnn.saving.files import write_atomically

def write(file):
    file.write(b"first half, ")
    file.flush()
    print("writing", flush=True)
    sys.stdin.readline()  # killed here, or told to finish
    file.write(b"second half")

write_atomically(sys.argv[1], write)
"""


def start_a_save(path):
    process = subprocess.Popen([sys.executable, "-c", SAVE_THAT_WAITS, str(path)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "writing\n"
    return process


def partial_files(folder):
    return sorted(name for name in os.listdir(folder) if name.endswith(".partial"))


def age(folder, seconds=3600):
    for name in partial_files(folder):
        then = time.time() - seconds
        os.utime(folder / name, (then, then))


def test_the_next_save_removes_what_a_killed_save_left(tmp_path):
    path = tmp_path / "m.clearcnn"
    for _ in range(3):  # ModelCheckpoint's case: saves to one path, killed again and again
        process = start_a_save(path)
        process.kill()
        process.wait()
    assert len(partial_files(tmp_path)) == 3 and all(n.startswith(".m.clearcnn.") for n in partial_files(tmp_path))
    (tmp_path / ".other.clearcnn.0123456789abcdef.partial").write_bytes(b"another target's")
    age(tmp_path)
    tiny_model().save(path)
    assert sorted(os.listdir(tmp_path)) == [".other.clearcnn.0123456789abcdef.partial", "m.clearcnn"]
    assert isinstance(load_model(path), Sequential)


def test_a_save_in_progress_is_left_alone(tmp_path):
    path = tmp_path / "m.clearcnn"
    process = start_a_save(path)
    try:
        age(tmp_path)  # even an old-looking temporary file is kept while its save is alive
        tiny_model().save(path)
        assert len(partial_files(tmp_path)) == 1
        process.stdin.write("finish\n")
        process.stdin.flush()
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
    assert path.read_bytes() == b"first half, second half" and partial_files(tmp_path) == []


def test_a_fresh_leftover_waits_for_a_later_save(tmp_path):
    path = tmp_path / "m.clearcnn"
    process = start_a_save(path)
    process.kill()
    process.wait()
    tiny_model().save(path)  # it may be a save that has not locked its file yet
    assert len(partial_files(tmp_path)) == 1
    age(tmp_path)
    tiny_model().save(path)
    assert partial_files(tmp_path) == []


# --- 5. all or nothing ------------------------------------------------------------------------------

def with_last_array_wrong(kind, folder):
    """A weights file of `kind` for tiny_model() whose last array (the Dense bias) has shape (3,)."""
    model = tiny_model()
    if kind == "npz":
        path = folder / "w.npz"
        np.savez(path, **{f"{i:04d}|w": w for i, w in enumerate([*model.get_weights()[:-1], np.zeros(3, "float32")])})
        return path
    if kind == "clearcnn":
        return saved(folder, "m.clearcnn", "weights/0003.npy", lambda data: npy(np.zeros(3, "float32")))

    def edit(file, folder):
        bias = BIAS[kernel_of(file)]
        del file[bias]
        file.create_dataset(bias, data=np.zeros(3, "float32"))
    return h5_file(kind, folder, edit)


@pytest.mark.parametrize("kind", ["npz", "clearcnn", *H5_KINDS])
def test_a_failed_load_weights_changes_nothing(tmp_path, kind):
    model = fresh_model()
    before = model.get_weights()
    refused(lambda: model.load_weights(with_last_array_wrong(kind, tmp_path)), "(2,)")
    assert unchanged(model, before)


def test_wrong_optimizer_state_is_refused(tmp_path):
    path = saved(tmp_path, "m.clearcnn", "optimizer/0007.npy", lambda data: npy(np.zeros(3, "float32")))
    refused(lambda: load_model(path), "optimizer/0007.npy")
    assert load_model(path, compile=False).optimizer is None  # the weights alone are fine


# --- 6. clear errors --------------------------------------------------------------------------------

WRONG_TYPES = [
    ("metadata", [1, 2], "`metadata` must be an object or null"),
    ("metadata", "classes", "`metadata` must be an object or null"),
    ("config", [1], "`config` must be an object"),
    ("config.layers", "conv", "invalid architecture"),
    ("config.layers", [5], "invalid architecture"),
    ("weights", "4", "`weights` must be a non-negative integer"),
    ("weights", True, "`weights` must be a non-negative integer"),
    ("weights", 5, "declares 5 weights"),
    ("optimizer", [], "`optimizer` must be an object"),
    ("optimizer.iterations", "1", "`optimizer.iterations`"),
    ("optimizer.iterations", 2**70, "`optimizer.iterations`"),
    ("optimizer.slots", -1, "`optimizer.slots`"),
    ("optimizer.slots", 3, "optimizer arrays"),
    ("compile", ["adam"], "`compile` must be an object or null"),
    ("rng", "seed", "`rng` must be an object or null"),
    ("rng", {"bit_generator": "PCG64", "state": 5}, "compile settings"),
]


@pytest.mark.parametrize("key, value, message", WRONG_TYPES, ids=[f"{key}={value!r}" for key, value, _ in WRONG_TYPES])
def test_wrong_types_in_the_description_are_named(tmp_path, key, value, message):
    def change(data):
        meta = json.loads(data)
        *parents, last = key.split(".")
        node = meta
        for parent in parents:
            node = node[parent]
        node[last] = value
        return json.dumps(meta).encode()
    path = saved(tmp_path, "m.clearcnn", "clearcnn.json", change)
    refused(lambda: load_model(path), message)


@pytest.mark.parametrize("name, message", [("m.clearcnn", "holds 4 weight arrays; this model has 2"),
                                           ("m.keras", "m.keras:model.weights.h5")])
def test_load_weights_reads_the_weights_of_a_model_file(tmp_path, name, message):
    saved = tiny_model()
    saved.save(tmp_path / name)
    model = fresh_model()
    model.load_weights(tmp_path / name)
    assert unchanged(model, saved.get_weights())
    other = Sequential([Dense(3, input_shape=(4,))])
    error = refused(lambda: other.load_weights(tmp_path / name), message)
    assert name == "m.keras" or "whole model file: load_model(" in str(error)


# --- 7. mutated files: they load or raise ClearCNNError, within bounds -----------------------------

def valid_files():
    """One valid small file per reader, made once: {suffix: bytes}."""
    if not VALID:
        with tempfile.TemporaryDirectory() as folder:
            folder = Path(folder)
            model = tiny_model()
            model.save(folder / "m.clearcnn")
            model.save(folder / "m.keras")
            model.save_weights(folder / "m.weights.h5")
            model.save_weights(folder / "m.npz")
            write_legacy_h5(model, folder / "m.h5")
            VALID.update({path.name[2:]: path.read_bytes() for path in folder.iterdir()})
    return VALID


VALID = {}
HOSTILE_VALUES = st.one_of(
    st.none(), st.booleans(), st.sampled_from([-1, 0, 1, 2, 3, 2**31, 2**63, 10**15, 10**100, 1.5, -0.0,
                                               float("nan"), float("inf")]),
    st.text(max_size=6), st.lists(st.integers(-2, 4), max_size=4), st.dictionaries(st.text(max_size=3),
                                                                                  st.integers(-1, 3), max_size=2),
    st.just("NESTED"))


@st.composite
def mutated_bytes(draw, data):
    """Bytes flipped, inserted or deleted, or the end cut off."""
    raw = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, max(len(raw) - 1, 0)))
        change = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if change == "flip" and raw:
            raw[at] ^= draw(st.integers(1, 255))
        elif change == "insert":
            raw[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif change == "delete":
            del raw[at:at + draw(st.integers(1, 64))]
        elif change == "truncate":
            del raw[at:]
    return bytes(raw)


@st.composite
def hostile_json(draw, text):
    """The JSON with one value anywhere in it replaced by a hostile one, or a key removed."""
    document = json.loads(text)
    places, stack = [], [document]
    while stack:
        node = stack.pop()
        for key in (node if isinstance(node, dict) else range(len(node)) if isinstance(node, list) else ()):
            places.append((node, key))
            stack.append(node[key])
    if places:
        node, key = draw(st.sampled_from(places))
        if isinstance(node, dict) and draw(st.booleans()):
            del node[key]
        else:
            node[key] = draw(HOSTILE_VALUES)
    return json.dumps(document).replace('"NESTED"', "[" * 5000 + "]" * 5000).encode()


@st.composite
def mutated_zip(draw, data):
    """A member rewritten (its bytes mutated, its JSON made hostile, zeros appended), recompressed or not; or
    the archive's own bytes mutated."""
    if draw(st.booleans()):
        return draw(mutated_bytes(data))
    members = zip_members(io.BytesIO(data))
    name = draw(st.sampled_from(sorted(members)))
    change = draw(st.sampled_from(["bytes", "json", "zeros", "drop", "extra"]))
    if change == "json" and name.endswith(".json"):
        members[name] = draw(hostile_json(members[name]))
    elif change == "zeros":
        members[name] += bytes(draw(st.sampled_from([1, 1000, 10**6])))
    elif change == "drop":
        del members[name]
    elif change == "extra":
        members[draw(st.sampled_from(["weights/9999.npy", "optimizer/0100.npy", "x.npy", "layers/"]))] = b"\x93NUMPY"
    else:
        members[name] = draw(mutated_bytes(members[name]))
    return write_zip(io.BytesIO(), members, draw(st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]))).getvalue()


def h5_edit(file, draw):
    """One structural change to an HDF5 weights file: a dataset replaced by a hostile one, a group or attribute
    changed, a link added."""
    datasets = []
    file.visititems(lambda name, obj: datasets.append(name) if isinstance(obj, h5py.Dataset) else None)
    if not datasets:
        return
    name = draw(st.sampled_from(sorted(datasets)))
    data = file[name][()]
    change = draw(st.sampled_from(["shape", "dtype", "chunks", "delete", "soft", "attribute", "group"]))
    if change == "attribute":
        target = file["model_weights"] if "model_weights" in file else file
        key = draw(st.sampled_from(["layer_names", "weight_names", "model_config"]))
        target.attrs[key] = draw(st.sampled_from([b"x", [b"a", b"b"], [1, 2], np.zeros((2, 2)), "{}", "[1]"]))
        return
    del file[name]
    if change == "shape":
        file.create_dataset(name, data=np.zeros(draw(st.sampled_from([(), (0,), (1,), (2, 2), (9, 2, 1)])), "f4"))
    elif change == "dtype":
        file.create_dataset(name, data=data.astype(draw(st.sampled_from(["f8", "f2", "i1", "u8", "?", "S4", "c8"]))))
    elif change == "chunks" and data.ndim:  # HDF5 keeps a scalar (an optimizer's step count) unchunked
        file.create_dataset(name, data=data, chunks=True, maxshape=(None,) * data.ndim, fletcher32=True)
    elif change == "chunks":
        file.create_dataset(name, data=np.reshape(data, (1,)), chunks=True, maxshape=(None,), fletcher32=True)
    elif change == "soft":
        file[name] = h5py.SoftLink(draw(st.sampled_from(["/", "/missing", name, "/" + sorted(datasets)[0]])))
    elif change == "group":
        file.create_group(name)


@st.composite
def mutated_h5(draw, data, byte_level=True):
    """The HDF5 file's bytes mutated, or one structural change made with h5py."""
    if byte_level and draw(st.booleans()):
        return draw(mutated_bytes(data))
    buffer = io.BytesIO(data)
    with h5py.File(buffer, "a") as file:
        h5_edit(file, draw)
    return buffer.getvalue()


def into_a_model(path):
    model = fresh_model()
    before = model.get_weights()
    try:
        model.load_weights(path)
    except ClearCNNError:
        assert unchanged(model, before)  # all or nothing, even for mutated files
        raise


def loads_or_is_refused(suffix, data, whole_model=True):
    """The file loads, or is refused with a ClearCNNError, within bounds: into a built model, and as a whole
    model where it holds one."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"m.{suffix}"
        path.write_bytes(data)
        bounded(lambda: into_a_model(path))
        if whole_model:
            bounded(lambda: load_model(path))


@given(st.data())
def test_mutated_clearcnn_files_load_or_are_refused(data):
    loads_or_is_refused("clearcnn", data.draw(mutated_zip(valid_files()["clearcnn"])))


@given(st.data())
def test_mutated_keras_files_load_or_are_refused(data):
    archive = valid_files()["keras"]
    if data.draw(st.booleans()):  # the HDF5 inside the archive
        members = zip_members(io.BytesIO(archive))
        members["model.weights.h5"] = data.draw(mutated_h5(members["model.weights.h5"]))
        archive = write_zip(io.BytesIO(), members).getvalue()
    else:
        archive = data.draw(mutated_zip(archive))
    loads_or_is_refused("keras", archive)


@given(st.data())
def test_mutated_weights_h5_files_load_or_are_refused(data):
    loads_or_is_refused("weights.h5", data.draw(mutated_h5(valid_files()["weights.h5"])), whole_model=False)


@settings(max_examples=max(10, settings.default.max_examples // 5))  # each load starts a child process
@given(st.data())
def test_mutated_legacy_h5_files_load_or_are_refused(data):
    loads_or_is_refused("h5", data.draw(mutated_h5(valid_files()["h5"])))


@given(st.data())
def test_mutated_npz_weights_load_or_are_refused(data):
    loads_or_is_refused("npz", data.draw(mutated_zip(valid_files()["npz"])), whole_model=False)


# --- an architecture that declares far more weights than its file holds ----------------------------------------

def _widen_dense(config):
    """The Dense layer of a clearcnn description or a Keras config, widened to 2**26 units: 4.8 GB of float32
    weights on the tiny model's 18 inputs, declared by a file of a few KB."""
    for entry in config["layers"]:
        if entry["class_name"] == "Dense":
            entry["config"]["units"] = 2 ** 26
    return config


@pytest.mark.parametrize("name, member", [("m.clearcnn", "clearcnn.json"), ("m.keras", "config.json")])
def test_an_architecture_larger_than_its_file_is_refused_before_allocating(tmp_path, name, member):
    def change(data):
        meta = json.loads(data)
        _widen_dense(meta["config"])
        return json.dumps(meta).encode()
    path = saved(tmp_path, name, member, change)
    refused(lambda: load_model(path), "would take")
