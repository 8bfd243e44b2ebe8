"""Keras files (clearcnn/saving/keras.py): files written by Keras 3 read back exactly (a small model kept in
tests/fixtures/keras, and SEED-CNN written by the installed Keras once a session), round trips with real Keras
in both directions on random models, and a clear ClearCNNError for hostile, damaged, unsupported or
mismatched files. Nothing in a file is ever executed."""
import json
import os
import zipfile
from pathlib import Path

# Before Keras is imported anywhere: the torch backend (installed for the oracle tests) unless one is chosen.
os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import pytest

from clearcnn import ClearCNNError
from clearcnn.layers import Activation, AveragePooling2D, Conv2D, Dense, Dropout, Flatten, InputLayer, MaxPooling2D, Rescaling
from clearcnn.models import Sequential, load_model

h5py = pytest.importorskip("h5py")
pytestmark = [pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy:DeprecationWarning"),
              pytest.mark.filterwarnings("ignore:You are using a softmax over axis -1:UserWarning"),
              pytest.mark.filterwarnings("ignore:You are saving your model as an HDF5 file:UserWarning")]

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "keras"  # mixed: how it was made is in its README.md
MODELS = ("mixed", "seed_cnn")
TOLERANCE = 1e-5


def assert_close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=0, atol=TOLERANCE)


def fixture_io(name, folder=FIXTURES):
    with np.load(folder / f"{name}_io.npz", allow_pickle=False) as data:
        return data["x"], data["y"]


@pytest.fixture(scope="session")
def keras():
    return pytest.importorskip("keras", reason="Keras is not installed")


@pytest.fixture(scope="session")
def seed_cnn_folder(keras, tmp_path_factory):
    """SEED-CNN's files, 11 MB each and so not kept in the repository, written here by the installed Keras in
    well under a second, the way mixed's were: built, compiled with Adam, fitted four steps (so the files hold
    the optimizer's state too), then saved as .keras, .weights.h5 and legacy .h5 beside its inputs and Keras's
    predictions."""
    folder = tmp_path_factory.mktemp("seed_cnn")
    keras.utils.set_random_seed(0)
    L = keras.layers
    model = keras.Sequential([
        keras.Input(shape=(32, 32, 3)),
        L.Conv2D(6, 3, activation="relu"),
        L.MaxPooling2D(3, strides=1),
        L.Conv2D(16, 5, activation="relu"),
        L.MaxPooling2D(3, strides=1),
        L.Flatten(),
        L.Dense(120, activation="relu"),
        L.Dense(3, activation="softmax")], name="seed_cnn")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    # Pixels in [0, 1): the softmax then stays well inside (0, 1), so comparing outputs to 1e-5 tests every layer
    # (standard normal ones, as in mixed_io.npz, push it to within 1e-5 of 1 here).
    model.fit(rng.random((16, 32, 32, 3), np.float32), rng.integers(0, 3, 16), batch_size=4, verbose=0)
    x = rng.random((5, 32, 32, 3), np.float32)
    np.savez(folder / "seed_cnn_io.npz", x=x, y=np.asarray(model.predict(x, verbose=0)))
    model.save(folder / "seed_cnn.keras")
    model.save_weights(folder / "seed_cnn.weights.h5")
    model.save(folder / "seed_cnn_legacy.h5")  # Keras warns that the format is legacy
    return folder


@pytest.fixture
def folder(request, name):
    """Where the files of the model `name` are: seed_cnn's need Keras, mixed's are kept in the repository."""
    return request.getfixturevalue("seed_cnn_folder") if name == "seed_cnn" else FIXTURES


# --- the fixture models, rebuilt by hand from their config.json (other layer names on purpose) --------------

def hand_built(name):
    if name == "mixed":
        return Sequential([
            InputLayer(shape=(20, 17, 2), name="in_hand"),
            Conv2D(4, (3, 2), strides=(2, 1), padding="same", activation="tanh", name="hand_conv_a"),
            AveragePooling2D((2, 3), strides=(1, 2), padding="same", name="hand_avg"),
            Conv2D(5, 3, dilation_rate=2, activation="sigmoid", use_bias=False, name="hand_conv_b"),
            MaxPooling2D(2, strides=2, padding="same", name="hand_max"),
            Activation("relu", name="hand_relu"),
            Flatten(name="hand_flat"),
            Dropout(0.3, name="hand_drop"),
            Dense(7, activation="softmax", name="hand_out")], name="hand_mixed")
    return Sequential([
        InputLayer(shape=(32, 32, 3), name="in_hand"),
        Conv2D(6, 3, activation="relu", name="hand_c1"),
        MaxPooling2D(3, strides=1, name="hand_p1"),
        Conv2D(16, 5, activation="relu", name="hand_c2"),
        MaxPooling2D(3, strides=1, name="hand_p2"),
        Flatten(name="hand_flat"),
        Dense(120, activation="relu", name="hand_d1"),
        Dense(3, activation="softmax", name="hand_d2")], name="hand_seed_cnn")


@pytest.mark.parametrize("name", MODELS)
def test_fixture_keras_archive_predicts_like_keras(name, folder):
    x, y = fixture_io(name, folder)
    model = load_model(folder / f"{name}.keras")
    assert [type(layer) for layer in model.layers] == [type(layer) for layer in hand_built(name).layers]
    assert model.input_shape == hand_built(name).input_shape
    assert_close(model.predict(x, verbose=0), y)


@pytest.mark.parametrize("name", MODELS)
def test_fixture_legacy_h5_model_predicts_like_keras(name, folder):
    x, y = fixture_io(name, folder)
    model = load_model(folder / f"{name}_legacy.h5")
    assert [type(layer) for layer in model.layers] == [type(layer) for layer in hand_built(name).layers]
    assert_close(model.predict(x, verbose=0), y)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("suffix", [".weights.h5", "_legacy.h5"])
def test_fixture_weights_load_into_a_hand_built_model(name, folder, suffix):
    x, y = fixture_io(name, folder)
    model = hand_built(name)
    assert np.abs(model.predict(x, verbose=0) - y).max() > 1e-3  # freshly initialised: not the answer yet
    model.load_weights(folder / f"{name}{suffix}")
    assert_close(model.predict(x, verbose=0), y)
    # The arrays are Keras's, layer by layer, in Keras's order (kernel, then bias).
    reference = load_model(folder / f"{name}.keras")
    for mine, theirs in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(mine, theirs)


def test_fixture_weights_land_by_class_numbering_not_by_name():
    # The .weights.h5 keys are Keras's class-based numbering in model order (conv2d, conv2d_1, dense), not the
    # layer names (conv2d_2, conv2d_3, dense_2 in the file; hand_conv_a ... here).
    model = hand_built("mixed")
    model.load_weights(FIXTURES / "mixed.weights.h5")
    with h5py.File(FIXTURES / "mixed.weights.h5", "r") as file:
        np.testing.assert_array_equal(model.layers[0].kernel.value, file["layers/conv2d/vars/0"][()])
        np.testing.assert_array_equal(model.layers[2].kernel.value, file["layers/conv2d_1/vars/0"][()])
        np.testing.assert_array_equal(model.layers[-1].bias.value, file["layers/dense/vars/1"][()])


# --- round trips with real Keras ------------------------------------------------------------------------

ACTIVATIONS = ["relu", "sigmoid", "tanh", "softmax", "elu", "leaky_relu", "linear"]
TORCH_BACKEND = os.environ.get("KERAS_BACKEND") == "torch"


def _out(n, k, s, d, padding):
    effective = (k - 1) * d + 1
    return -(-n // s) if padding == "same" else (n - effective) // s + 1


def _same_pad(n, k, s):
    return max((-(-n // s) - 1) * s + k - n, 0)


def random_spec(seed):
    """A random Sequential of supported layers, as (kind, kwargs) entries, with every shape kept valid."""
    rng = np.random.default_rng(seed)
    pick = lambda options: options[int(rng.integers(len(options)))]  # noqa: E731
    h, w, c = (int(v) for v in (rng.integers(12, 23), rng.integers(12, 23), rng.integers(1, 4)))
    spec, hw = [("input", {"shape": (h, w, c)})], [h, w]
    if rng.random() < 0.3:
        spec.append(("rescaling", {"scale": float(rng.uniform(0.2, 2)), "offset": float(rng.uniform(-1, 1))}))
    # softmax only over an axis of 2 or more (over one value it is the constant 1, which would test nothing)
    act = lambda size: pick(ACTIVATIONS if size > 1 else [a for a in ACTIVATIONS if a != "softmax"])  # noqa: E731
    for _ in range(int(rng.integers(1, 4))):
        kernel = tuple(int(v) for v in rng.integers(1, 5, size=2))
        dilation = (1, 1) if rng.random() < 0.6 else tuple(int(v) for v in rng.integers(1, 3, size=2))
        strides = tuple(int(v) for v in rng.integers(1, 3, size=2)) if dilation == (1, 1) else (1, 1)
        padding = pick(["valid", "same"])
        if any(_out(n, k, s, d, padding) < 1 for n, k, s, d in zip(hw, kernel, strides, dilation)):
            padding = "same"
        c = int(rng.integers(1, 7))
        spec.append(("conv", {"filters": c, "kernel_size": kernel, "strides": strides, "padding": padding,
                              "dilation_rate": dilation, "activation": act(c), "use_bias": bool(rng.random() < 0.7)}))
        hw = [_out(n, k, s, d, padding) for n, k, s, d in zip(hw, kernel, strides, dilation)]
        if rng.random() < 0.7:
            kind = pick(["maxpool", "avgpool"])
            pool = tuple(int(v) for v in rng.integers(1, 4, size=2))
            strides = None if rng.random() < 0.5 else tuple(int(v) for v in rng.integers(1, 4, size=2))
            padding = pick(["valid", "same"])
            steps = pool if strides is None else strides
            if any(_out(n, k, s, 1, padding) < 1 for n, k, s in zip(hw, pool, steps)):
                padding = "same"
            if kind == "avgpool" and padding == "same" and TORCH_BACKEND and \
                    any(_same_pad(n, k, s) for n, k, s in zip(hw, pool, steps)):
                # Keras's torch backend averages "same"-padded windows differently from its JAX/TF backends
                # (the mixed fixture differs by ~4e-3 there); clearcnn follows the documented semantics, which
                # the JAX fixture confirms. So under torch, avg-pool "same" appears only where it pads nothing.
                kind = "maxpool"
            spec.append((kind, {"pool_size": pool, "strides": strides, "padding": padding}))
            hw = [_out(n, k, s, 1, padding) for n, k, s in zip(hw, pool, steps)]
        if rng.random() < 0.3:
            spec.append(("activation", {"activation": act(c)}))
    spec.append(("flatten", {}))
    if rng.random() < 0.5:
        spec.append(("dropout", {"rate": float(rng.uniform(0.1, 0.6))}))
    if rng.random() < 0.6:
        units = int(rng.integers(2, 12))
        spec.append(("dense", {"units": units, "activation": act(units), "use_bias": bool(rng.random() < 0.8)}))
    units = int(rng.integers(1, 6))
    spec.append(("dense", {"units": units, "activation": act(units)}))
    if rng.random() < 0.3:
        spec.append(("activation", {"activation": act(units)}))
    return spec


def clearcnn_model(spec, prefix="cc"):
    classes = {"input": InputLayer, "rescaling": Rescaling, "conv": Conv2D, "maxpool": MaxPooling2D,
               "avgpool": AveragePooling2D, "activation": Activation, "flatten": Flatten, "dropout": Dropout,
               "dense": Dense}
    return Sequential([classes[kind](**kwargs, name=f"{prefix}_{i}") for i, (kind, kwargs) in enumerate(spec)],
                      name=f"{prefix}_model")


def keras_model(keras, spec):
    L = keras.layers
    classes = {"input": L.Input, "rescaling": L.Rescaling, "conv": L.Conv2D, "maxpool": L.MaxPooling2D,
               "avgpool": L.AveragePooling2D, "activation": L.Activation, "flatten": L.Flatten,
               "dropout": L.Dropout, "dense": L.Dense}
    return keras.Sequential([classes[kind](**kwargs) for kind, kwargs in spec])


def random_weights(shapes, seed):
    """Weights that keep every activation of order one, so that an absolute 1e-5 is a fair float32 test."""
    rng = np.random.default_rng(seed)
    arrays = []
    for shape in shapes:
        fan_in = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
        scale = 1.5 / np.sqrt(fan_in) if len(shape) > 1 else 0.3
        arrays.append((rng.normal(size=shape) * scale).astype("float32"))
    return arrays


def sample_input(spec, seed):
    return np.random.default_rng(seed).normal(size=(4, *spec[0][1]["shape"])).astype("float32")


ROUND_TRIP_SEEDS = range(8)


def same_padding_cases(spec):
    """{(layer class, total padding odd, strided)} for each "same" window layer that really pads."""
    cases = set()
    for layer, shape, _ in clearcnn_model(spec).layer_shapes():
        if getattr(layer, "padding", None) == "same":
            kernel, strides, dilation, _ = layer.window
            for n, k, s, d in zip(shape[1:3], kernel, strides, dilation):
                pad = _same_pad(n, (k - 1) * d + 1, s)
                if pad:
                    cases.add((type(layer).__name__, pad % 2, s > 1))
    return cases


def test_random_specs_cover_the_options():
    seeds = [*ROUND_TRIP_SEEDS, *(1000 + seed for seed in ROUND_TRIP_SEEDS)]
    entries = [entry for seed in seeds for entry in random_spec(seed)]
    kinds = {kind for kind, _ in entries}
    assert kinds >= {"conv", "maxpool", "avgpool", "activation", "flatten", "dropout", "dense", "rescaling"}
    convs = [kwargs for kind, kwargs in entries if kind == "conv"]
    assert any(k["kernel_size"][0] != k["kernel_size"][1] for k in convs)
    assert any(k["strides"] != (1, 1) for k in convs) and any(k["dilation_rate"] != (1, 1) for k in convs)
    assert {k["padding"] for k in convs} == {"valid", "same"} and not all(k["use_bias"] for k in convs)
    used = {kwargs["activation"] for kind, kwargs in entries if "activation" in kwargs}
    assert used == set(ACTIVATIONS)
    assert {kwargs["padding"] for kind, kwargs in entries if kind in ("maxpool", "avgpool")} == {"valid", "same"}
    # "same" that really pads: odd and even totals (Keras puts the odd pixel bottom/right), with strides.
    padded = {case for seed in seeds for case in same_padding_cases(random_spec(seed))}
    assert {("Conv2D", 0, True), ("Conv2D", 1, True), ("Conv2D", 1, False), ("MaxPooling2D", 1, True)} <= padded


@pytest.mark.parametrize("seed", ROUND_TRIP_SEEDS)
def test_keras_written_files_load_in_clearcnn(keras, tmp_path, seed):
    spec = random_spec(seed)
    kmodel = keras_model(keras, spec)
    kmodel.set_weights(random_weights([w.shape for w in kmodel.get_weights()], seed))
    x = sample_input(spec, seed + 100)
    expected = np.asarray(kmodel.predict(x, verbose=0))
    kmodel.save(tmp_path / "k.keras")
    kmodel.save_weights(tmp_path / "k.weights.h5")

    loaded = load_model(tmp_path / "k.keras")
    assert len(loaded.layers) == len(spec) - 1
    assert_close(loaded.predict(x, verbose=0), expected)

    mine = clearcnn_model(spec)
    mine.load_weights(tmp_path / "k.weights.h5")
    assert_close(mine.predict(x, verbose=0), expected)


@pytest.mark.parametrize("seed", ROUND_TRIP_SEEDS[:3])
def test_keras_written_legacy_h5_loads_in_clearcnn(keras, tmp_path, seed):
    spec = random_spec(seed)
    kmodel = keras_model(keras, spec)
    kmodel.set_weights(random_weights([w.shape for w in kmodel.get_weights()], seed))
    x = sample_input(spec, seed + 100)
    expected = np.asarray(kmodel.predict(x, verbose=0))
    kmodel.save(tmp_path / "k.h5")  # Keras warns that the format is legacy
    assert_close(load_model(tmp_path / "k.h5").predict(x, verbose=0), expected)
    mine = clearcnn_model(spec)
    mine.load_weights(tmp_path / "k.h5")
    assert_close(mine.predict(x, verbose=0), expected)


@pytest.mark.parametrize("seed", ROUND_TRIP_SEEDS)
def test_clearcnn_written_files_load_in_keras(keras, tmp_path, seed):
    spec = random_spec(1000 + seed)
    mine = clearcnn_model(spec)
    mine.set_weights(random_weights([w.shape for w in mine.weights], seed))
    x = sample_input(spec, seed + 200)
    expected = mine.predict(x, verbose=0)
    mine.save(tmp_path / "c.keras")
    mine.save_weights(tmp_path / "c.weights.h5")

    loaded = keras.saving.load_model(tmp_path / "c.keras")
    assert len(loaded.layers) == len(spec) - 1
    assert_close(np.asarray(loaded.predict(x, verbose=0)), expected)

    kmodel = keras_model(keras, spec)
    kmodel.load_weights(tmp_path / "c.weights.h5")
    assert_close(np.asarray(kmodel.predict(x, verbose=0)), expected)

    # And back: the file clearcnn wrote reads in clearcnn too, the same model.
    again = load_model(tmp_path / "c.keras")
    assert_close(again.predict(x, verbose=0), expected)


@pytest.mark.parametrize("name", MODELS)
def test_a_fixture_saved_by_clearcnn_loads_in_keras(keras, tmp_path, name, folder):
    x, y = fixture_io(name, folder)
    model = load_model(folder / f"{name}.keras")
    model.save(tmp_path / "again.keras")
    loaded = keras.saving.load_model(tmp_path / "again.keras")
    assert [type(layer).__name__ for layer in loaded.layers] == [type(layer).__name__ for layer in model.layers]
    for mine, theirs in zip(model.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(mine, np.asarray(theirs))
    # mixed holds avg-pool "same" with padding, which Keras's torch backend computes differently (see
    # random_spec): there the weights above are the check; on other backends the predictions too.
    if name != "mixed" or keras.backend.backend() != "torch":
        assert_close(np.asarray(loaded.predict(x, verbose=0)), y)


# --- hostile, damaged, unsupported and older files -----------------------------------------------------

def members(path):
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def write_zip(path, contents, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in contents.items():
            archive.writestr(name, data)
    return path


def edited_mixed(tmp_path, edit, compression=zipfile.ZIP_STORED):
    """mixed.keras with its config.json changed by edit(config) (which may return a replacement)."""
    contents = members(FIXTURES / "mixed.keras")
    config = json.loads(contents["config.json"])
    config = edit(config) or config
    contents["config.json"] = json.dumps(config)
    return write_zip(tmp_path / "edited.keras", contents, compression)


def mixed_layer(config, class_name, index=0):
    return [entry for entry in config["config"]["layers"] if entry["class_name"] == class_name][index]


@pytest.mark.parametrize("member", ["../evil", "sub/../../evil", "/etc/evil", "\\evil", "C:/evil"])
def test_unsafe_member_names_are_refused(tmp_path, member):
    contents = members(FIXTURES / "mixed.keras")
    contents[member] = b"payload"
    path = write_zip(tmp_path / "evil.keras", contents)
    assert member in zipfile.ZipFile(path).namelist()
    with pytest.raises(ClearCNNError, match="unsafe name") as info:
        load_model(path)
    assert repr(member) in str(info.value)
    assert not (tmp_path.parent / "evil").exists()


@pytest.mark.parametrize("class_name", ["LayerNormalization", "Conv1D", "Lambda", "os.system", "Weight", "Layer"])
def test_unsupported_layers_are_named(tmp_path, class_name):
    def edit(config):
        mixed_layer(config, "Activation")["class_name"] = class_name
    with pytest.raises(ClearCNNError, match=f"layer '{class_name}' is not supported"):
        load_model(edited_mixed(tmp_path, edit))


@pytest.mark.parametrize("class_name, option, value", [
    ("Conv2D", "groups", 2),
    ("Conv2D", "kernel_regularizer", {"module": "keras.regularizers", "class_name": "OrthogonalRegularizer",
                                      "config": {"factor": 0.01, "mode": "rows"}, "registered_name": None}),
    ("Conv2D", "bias_constraint", {"module": None, "class_name": "Clip", "config": {},
                                   "registered_name": "my_package>Clip"}),
    ("Dense", "quantization_config", {"mode": "int8"}),
    ("Dense", "lora_rank", 4),
    ("Dropout", "noise_shape", [None, 1]),
    ("Conv2D", "data_format", "channels_first"),
])
def test_unsupported_options_switched_on_are_named(tmp_path, class_name, option, value):
    def edit(config):
        mixed_layer(config, class_name)["config"][option] = value
    with pytest.raises(ClearCNNError, match=f"`{option}`"):
        load_model(edited_mixed(tmp_path, edit))


def test_unsupported_options_left_off_are_fine(tmp_path):
    def edit(config):
        dense = mixed_layer(config, "Dense")["config"]
        dense.update(lora_rank=None, quantization_config=None, activity_regularizer=None, some_new_flag=False)
    x, y = fixture_io("mixed")
    assert_close(load_model(edited_mixed(tmp_path, edit)).predict(x, verbose=0), y)


@pytest.mark.parametrize("class_name, activation", [("Conv2D", "gelu"), ("Dense", "selu"), ("Activation", "swish"),
                                                    ("Activation", "os.system")])
def test_unsupported_activations_are_named(tmp_path, class_name, activation):
    def edit(config):
        mixed_layer(config, class_name)["config"]["activation"] = activation
    with pytest.raises(ClearCNNError, match=f"activation={activation!r}"):
        load_model(edited_mixed(tmp_path, edit))


def test_unknown_initializer_and_dtype_are_named(tmp_path):
    def initializer(config):
        mixed_layer(config, "Dense")["config"]["kernel_initializer"] = {
            "module": "keras.initializers", "class_name": "STFT", "config": {}, "registered_name": None}
    with pytest.raises(ClearCNNError, match="STFT"):
        load_model(edited_mixed(tmp_path, initializer))
    for dtype in ("float16", "bfloat16", {"module": "keras", "class_name": "DTypePolicy",
                                          "config": {"name": "mixed_float16"}}):
        def edit(config, dtype=dtype):
            mixed_layer(config, "Conv2D")["config"]["dtype"] = dtype
        with pytest.raises(ClearCNNError, match="float16"):
            load_model(edited_mixed(tmp_path, edit))


def test_plain_string_dtypes_load(tmp_path):
    def edit(config):
        config["config"]["dtype"] = "float32"
        for entry in config["config"]["layers"]:
            entry["config"]["dtype"] = "float32"
    x, y = fixture_io("mixed")
    assert_close(load_model(edited_mixed(tmp_path, edit)).predict(x, verbose=0), y)


def _strip_build_shapes(config):
    """Without these, only the Keras 2 `batch_input_shape` can tell the input shape."""
    config.pop("build_config", None)
    config["config"].pop("build_input_shape", None)
    for entry in config["config"]["layers"]:
        entry.pop("build_config", None)


def test_keras2_batch_input_shape_on_the_first_layer_loads(tmp_path):
    def edit(config):
        _strip_build_shapes(config)
        layers = config["config"]["layers"]
        assert layers[0]["class_name"] == "InputLayer"
        layers.pop(0)
        layers[0]["config"]["batch_input_shape"] = [None, 20, 17, 2]
    x, y = fixture_io("mixed")
    model = load_model(edited_mixed(tmp_path, edit))
    assert model.input_shape == (None, 20, 17, 2)
    assert_close(model.predict(x, verbose=0), y)


def test_keras2_input_layer_with_batch_input_shape_loads(tmp_path):
    def edit(config):
        _strip_build_shapes(config)
        first = config["config"]["layers"][0]["config"]
        del first["batch_shape"]
        first["batch_input_shape"] = [None, 20, 17, 2]
    x, y = fixture_io("mixed")
    model = load_model(edited_mixed(tmp_path, edit))
    assert model.input_shape == (None, 20, 17, 2)
    assert_close(model.predict(x, verbose=0), y)


def test_a_model_without_any_input_shape_is_refused(tmp_path):
    def edit(config):
        _strip_build_shapes(config)
        config["config"]["layers"].pop(0)
    with pytest.raises(ClearCNNError, match="no input shape"):
        load_model(edited_mixed(tmp_path, edit))


@pytest.mark.parametrize("shape", [5, "abc", [None, "a", 17, 2], [None, -3, 17, 2], [None, 20.5, 17, 2]])
def test_an_invalid_build_shape_is_refused(tmp_path, shape):
    def edit(config):
        _strip_build_shapes(config)
        config["config"]["layers"].pop(0)
        config["build_config"] = {"input_shape": shape}
    with pytest.raises(ClearCNNError):
        load_model(edited_mixed(tmp_path, edit))


@pytest.mark.parametrize("damage", ["bad json", "missing layer group", "truncated"])
def test_damaged_legacy_h5_models_are_refused(tmp_path, damage):
    path = tmp_path / "legacy.h5"
    raw = (FIXTURES / "mixed_legacy.h5").read_bytes()
    path.write_bytes(raw[: len(raw) // 2] if damage == "truncated" else raw)
    if damage != "truncated":
        with h5py.File(path, "a") as file:
            if damage == "bad json":
                file.attrs["model_config"] = "{not json"
            else:
                del file["model_weights/dense_2"]
    with pytest.raises(ClearCNNError, match="legacy.h5"):
        load_model(path)
    if damage != "bad json":
        with pytest.raises(ClearCNNError, match="legacy.h5"):
            hand_built("mixed").load_weights(path)


@pytest.mark.parametrize("config", [
    {"module": "keras", "class_name": "Functional", "config": {}},
    {"class_name": "Sequential", "config": {"layers": "not a list"}},
    {"class_name": "Sequential", "config": {"layers": [5]}},
    [1, 2, 3],
])
def test_other_models_and_malformed_configs_are_refused(tmp_path, config):
    with pytest.raises(ClearCNNError):
        load_model(edited_mixed(tmp_path, lambda _: config))


def test_a_layer_config_missing_a_required_option_is_refused(tmp_path):
    def edit(config):
        del mixed_layer(config, "Conv2D")["config"]["filters"]
    with pytest.raises(ClearCNNError, match="filters"):
        load_model(edited_mixed(tmp_path, edit))


def test_loading_never_executes_code(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(os, "system", lambda *args: calls.append(args))

    def edit(config):
        layers = config["config"]["layers"]
        layers.insert(2, {"module": "os", "class_name": "system", "registered_name": "os>system",
                          "config": {"command": "touch pwned"}})
    with pytest.raises(ClearCNNError, match="'system' is not supported"):
        load_model(edited_mixed(tmp_path, edit))

    def lambda_layer(config):
        mixed_layer(config, "Activation").update(
            class_name="Lambda", module="keras.layers",
            config={"name": "lam", "function": {"class_name": "__lambda__", "config": {
                "code": "4wEAAAAAAAAAAAAAAAEAAAADAAAAQwAAAHMEAAAAfABTAKkBTqkAqQHaAXhy",  # marshalled bytecode
                "defaults": None, "closure": None}}})
    with pytest.raises(ClearCNNError, match="'Lambda' is not supported"):
        load_model(edited_mixed(tmp_path, lambda_layer))

    def module_function(config):
        mixed_layer(config, "Dense")["config"]["activation"] = {
            "module": "os", "class_name": "function", "config": "system", "registered_name": "function"}
    with pytest.raises(ClearCNNError, match="system"):
        load_model(edited_mixed(tmp_path, module_function))
    assert calls == [] and not (tmp_path / "pwned").exists() and not Path("pwned").exists()


def test_truncated_and_corrupt_keras_archives_are_refused(tmp_path):
    raw = (FIXTURES / "mixed.keras").read_bytes()
    for cut in (0, 10, len(raw) // 2, len(raw) - 30):
        path = tmp_path / f"cut{cut}.keras"
        path.write_bytes(raw[:cut])
        with pytest.raises(ClearCNNError):
            load_model(path)
    flipped = bytearray(raw)
    flipped[len(raw) // 2] ^= 0xFF  # inside the stored weights: the CRC check fails
    (tmp_path / "flipped.keras").write_bytes(bytes(flipped))
    with pytest.raises(ClearCNNError, match="flipped.keras"):
        load_model(tmp_path / "flipped.keras")
    (tmp_path / "text.keras").write_text("not a zip at all")
    with pytest.raises(ClearCNNError, match="not a Keras archive"):
        load_model(tmp_path / "text.keras")


def test_corrupt_deflated_member_is_refused(tmp_path):
    path = edited_mixed(tmp_path, lambda config: None, compression=zipfile.ZIP_DEFLATED)
    info = zipfile.ZipFile(path).getinfo("config.json")
    raw = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 20
    for i in range(start, start + 50):
        raw[i] ^= 0x5A
    path.write_bytes(bytes(raw))
    with pytest.raises(ClearCNNError):
        load_model(path)


@pytest.mark.parametrize("change", ["no config", "no weights", "bad json", "bad weights"])
def test_incomplete_archives_are_refused(tmp_path, change):
    contents = members(FIXTURES / "mixed.keras")
    if change == "no config":
        del contents["config.json"]
    elif change == "no weights":
        del contents["model.weights.h5"]
    elif change == "bad json":
        contents["config.json"] = b"{not json"
    else:
        contents["model.weights.h5"] = b"\x89HDF\r\n\x1a\n" + b"\0" * 100
    with pytest.raises(ClearCNNError):
        load_model(write_zip(tmp_path / "incomplete.keras", contents))


def test_corrupt_and_foreign_weights_files_are_refused(tmp_path):
    model = hand_built("mixed")
    before = model.get_weights()
    raw = (FIXTURES / "mixed.weights.h5").read_bytes()
    (tmp_path / "cut.weights.h5").write_bytes(raw[: len(raw) // 2])
    (tmp_path / "junk.weights.h5").write_bytes(b"junk" * 100)
    for name in ("cut.weights.h5", "junk.weights.h5"):
        with pytest.raises(ClearCNNError, match=name):
            model.load_weights(tmp_path / name)
    # An HDF5 file of the Keras 3 layout whose layer groups are not what the model needs.
    with h5py.File(tmp_path / "odd.weights.h5", "w") as file:
        file.create_dataset("layers/conv2d/vars/0", data=np.zeros((3, 2, 2, 4), "float32"))
        file.create_dataset("layers/conv2d/vars/x", data=np.zeros((4,), "float32"))
    with pytest.raises(ClearCNNError):
        model.load_weights(tmp_path / "odd.weights.h5")
    with pytest.raises(ClearCNNError, match="no such file"):
        model.load_weights(tmp_path / "missing.weights.h5")
    for mine, old in zip(model.get_weights(), before):
        np.testing.assert_array_equal(mine, old)  # nothing half-loaded


@pytest.mark.parametrize("suffix", [".weights.h5", "_legacy.h5", ".keras"])
def test_weights_of_another_architecture_are_refused(tmp_path, suffix):
    model = hand_built("seed_cnn")
    before = model.get_weights()
    if suffix == ".keras":  # the weights inside a .keras archive, read as a .weights.h5 file
        (tmp_path / "inner.weights.h5").write_bytes(members(FIXTURES / "mixed.keras")["model.weights.h5"])
        source = tmp_path / "inner.weights.h5"
    else:
        source = FIXTURES / f"mixed{suffix}"
    with pytest.raises(ClearCNNError):
        model.load_weights(source)
    # Same layer kinds as mixed, but other sizes: the shapes are checked.
    wider = Sequential([InputLayer(shape=(20, 17, 2)), Conv2D(4, (3, 2), strides=(2, 1), padding="same"),
                        AveragePooling2D((2, 3), strides=(1, 2), padding="same"),
                        Conv2D(5, 3, dilation_rate=2, use_bias=False), MaxPooling2D(2, padding="same"),
                        Activation("relu"), Flatten(), Dropout(0.3), Dense(8)])
    with pytest.raises(ClearCNNError, match="shape"):
        wider.load_weights(FIXTURES / f"mixed{'_legacy.h5' if suffix == '_legacy.h5' else '.weights.h5'}")
    for mine, old in zip(model.get_weights(), before):
        np.testing.assert_array_equal(mine, old)


def test_legacy_weights_only_file_is_not_a_model(tmp_path):
    with h5py.File(FIXTURES / "mixed_legacy.h5", "r") as source, h5py.File(tmp_path / "w.h5", "w") as target:
        for key, value in source["model_weights"].attrs.items():
            target.attrs[key] = value
        for name in source["model_weights"]:
            source.copy(source["model_weights"][name], target, name=name)
    with pytest.raises(ClearCNNError, match="load_weights"):
        load_model(tmp_path / "w.h5")
    x, y = fixture_io("mixed")
    model = hand_built("mixed")
    model.load_weights(tmp_path / "w.h5")  # the Keras 2 weights-only layout: layer_names at the root
    assert_close(model.predict(x, verbose=0), y)
    # As in Keras 3, the legacy layout is read from .h5 files only, never from .weights.h5 or .keras.
    (tmp_path / "w.weights.h5").write_bytes((tmp_path / "w.h5").read_bytes())
    with pytest.raises(ClearCNNError, match="legacy layout, which is read from files ending in .h5"):
        hand_built("mixed").load_weights(tmp_path / "w.weights.h5")


def test_explicit_padding_cannot_be_saved_as_keras(tmp_path):
    model = Sequential([InputLayer(shape=(8, 8, 1)), Conv2D(2, 3, padding=((1, 0), (0, 1))), Flatten(), Dense(2)])
    with pytest.raises(ClearCNNError, match="explicit padding"):
        model.save(tmp_path / "pad.keras")
    pooled = Sequential([InputLayer(shape=(8, 8, 1)), MaxPooling2D(2, padding=1), Flatten(), Dense(2)])
    with pytest.raises(ClearCNNError, match="explicit padding"):
        pooled.save(tmp_path / "pad.keras")
    assert list(tmp_path.iterdir()) == []  # nothing written, not even a temporary file


def test_legacy_h5_is_read_not_written(tmp_path):
    model = Sequential([InputLayer(shape=(4,)), Dense(2)])
    with pytest.raises(ClearCNNError, match=".keras"):
        model.save(tmp_path / "model.h5")
    with pytest.raises(ClearCNNError, match=".weights.h5"):
        model.save_weights(tmp_path / "model.h5")


def test_clearcnn_keras_file_layout(tmp_path):
    """What Keras expects: config.json, metadata.json, model.weights.h5 keyed by class name and position."""
    model = Sequential([InputLayer(shape=(6, 6, 1)), Conv2D(2, 3, name="first"), Conv2D(3, 2, name="second"),
                        Flatten(name="flat"), Dense(4, name="head")])
    model.save(tmp_path / "m.keras")
    contents = members(tmp_path / "m.keras")
    assert set(contents) == {"config.json", "metadata.json", "model.weights.h5"}
    config = json.loads(contents["config.json"])
    assert [entry["class_name"] for entry in config["config"]["layers"]] == \
        ["InputLayer", "Conv2D", "Conv2D", "Flatten", "Dense"]
    assert json.loads(contents["metadata.json"])["keras_version"].startswith("3.")
    model.save_weights(tmp_path / "m.weights.h5")
    with h5py.File(tmp_path / "m.weights.h5", "r") as file:
        np.testing.assert_array_equal(file["layers/conv2d/vars/0"][()], model.layers[0].kernel.value)
        np.testing.assert_array_equal(file["layers/conv2d_1/vars/0"][()], model.layers[1].kernel.value)
        np.testing.assert_array_equal(file["layers/dense/vars/1"][()], model.layers[3].bias.value)
        assert len(file["layers/flatten/vars"]) == 0
