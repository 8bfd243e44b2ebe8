"""The model file (SPEC section 5): exact round trips, exact resumption of training, atomic saves, and a
clear ClearCNNError for every truncated, corrupt or hostile file."""
import io
import json
import os
import zipfile

import numpy as np
import pytest

import clearcnn.saving.native as native
from clearcnn import ClearCNNError
from clearcnn.layers import Conv2D, Dense, Dropout, Flatten, MaxPooling2D
from clearcnn.metrics import BinaryAccuracy
from clearcnn.models import Sequential, load_model
from clearcnn.optimizers import Adam
from clearcnn.utils import set_random_seed


def small_cnn():
    return Sequential([Conv2D(4, 3, activation="relu", input_shape=(8, 8, 2)), MaxPooling2D(), Flatten(),
                       Dropout(0.3), Dense(3, activation="softmax")])


def cnn_data(n=24, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 8, 8, 2)).astype("float32"), rng.integers(0, 3, size=n)


def trained_model(epochs=1):
    set_random_seed(0)
    model = small_cnn()
    model.compile(Adam(learning_rate=0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = cnn_data()
    model.fit(x, y, batch_size=8, epochs=epochs, verbose=0)
    return model


def same_weights(a, b):
    return len(a) == len(b) and all(u.shape == v.shape and np.array_equal(u, v) for u, v in zip(a, b))


# --- round trips ---------------------------------------------------------------------------------

def test_save_load_predict_is_bitwise_identical(tmp_path):
    model = trained_model()
    path = tmp_path / "model.clearcnn"
    model.save(path)
    loaded = load_model(path)
    x, y = cnn_data(n=10, seed=1)
    assert np.array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))
    assert same_weights(model.get_weights(), loaded.get_weights())
    assert loaded.get_config() == model.get_config()
    assert type(loaded.optimizer) is Adam and loaded.optimizer.learning_rate == 0.01
    assert loaded.optimizer.iterations == model.optimizer.iterations == 3
    assert loaded.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)
    with zipfile.ZipFile(path) as archive:  # JSON and .npy only: nothing that could hold code
        names = archive.namelist()
    assert names[0] == "clearcnn.json" and all(name.endswith(".npy") for name in names[1:])


def test_metric_objects_with_their_own_names_survive_a_save(tmp_path):
    # a model compiled with metric objects used to save their names only, and then could not be loaded
    model = Sequential([Dense(1, activation="sigmoid", input_shape=(3,))])
    model.compile("adam", "binary_crossentropy",
                  metrics=["accuracy", BinaryAccuracy(name="strict", threshold=0.9), "mae"])
    model.save(tmp_path / "m.clearcnn")
    loaded = load_model(tmp_path / "m.clearcnn")
    assert loaded.metrics_names == ["loss", "accuracy", "strict", "mae"]
    assert loaded.compiled_metrics[1].threshold == 0.9
    loaded.set_weights([np.zeros((3, 1)), np.array([np.log(0.7 / 0.3)])])  # every output is 0.7
    x, y = np.zeros((4, 3), dtype="float32"), np.array([1, 1, 1, 0])
    logs = loaded.evaluate(x, y, verbose=0, return_dict=True)
    assert logs["accuracy"] == pytest.approx(3 / 4)  # 0.7 > 0.5: every sample called 1
    assert logs["strict"] == pytest.approx(1 / 4)  # 0.7 < 0.9: every sample called 0


def test_load_without_compile(tmp_path):
    model = trained_model()
    model.save(tmp_path / "m.clearcnn")
    loaded = load_model(tmp_path / "m.clearcnn", compile=False)
    assert loaded.optimizer is None and loaded.loss is None
    x, _ = cnn_data(n=4, seed=2)
    assert np.array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))


def test_training_resumes_exactly_after_save_and_load(tmp_path):
    """2 epochs, save, load, 2 more == 4 epochs straight: weights, Adam's state and step count, and the
    random generator behind shuffling and dropout all travel in the file."""
    x, y = cnn_data(n=40)

    set_random_seed(3)
    straight = small_cnn()
    straight.compile(Adam(learning_rate=0.01), "sparse_categorical_crossentropy")
    straight.fit(x, y, batch_size=8, epochs=4, shuffle=True, verbose=0)

    set_random_seed(3)
    first = small_cnn()
    first.compile(Adam(learning_rate=0.01), "sparse_categorical_crossentropy")
    first.fit(x, y, batch_size=8, epochs=2, shuffle=True, verbose=0)
    path = tmp_path / "half.clearcnn"
    first.save(path)
    resumed = load_model(path)
    resumed.fit(x, y, batch_size=8, epochs=2, shuffle=True, verbose=0)
    assert same_weights(resumed.get_weights(), straight.get_weights())

    # the test can fail: without the optimizer state and generator the result differs
    fresh = load_model(path, compile=False)
    fresh.compile(Adam(learning_rate=0.01), "sparse_categorical_crossentropy")
    fresh.fit(x, y, batch_size=8, epochs=2, shuffle=True, verbose=0)
    assert not same_weights(fresh.get_weights(), straight.get_weights())


# --- atomic saves --------------------------------------------------------------------------------

@pytest.mark.parametrize("exception", [OSError("disk full"), KeyboardInterrupt()])
def test_an_interrupted_save_leaves_the_previous_file_intact(tmp_path, monkeypatch, exception):
    model = trained_model()
    path = tmp_path / "model.clearcnn"
    model.save(path)
    before = path.read_bytes()
    model.fit(*cnn_data(), epochs=1, verbose=0)  # new weights, so a completed save would change the file

    real, calls = native._npy_bytes, []

    def failing(array):
        calls.append(1)
        if len(calls) == 2:
            raise exception
        return real(array)

    monkeypatch.setattr(native, "_npy_bytes", failing)
    with pytest.raises(type(exception)):
        model.save(path)
    assert len(calls) == 2
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["model.clearcnn"]  # no temporary file left behind
    monkeypatch.undo()
    model.save(path)
    assert path.read_bytes() != before


def test_a_failed_first_save_creates_no_file(tmp_path, monkeypatch):
    monkeypatch.setattr(native, "_npy_bytes", lambda array: (_ for _ in ()).throw(OSError("no space")))
    with pytest.raises(OSError):
        trained_model().save(tmp_path / "m.clearcnn")
    assert os.listdir(tmp_path) == []


# --- damaged and hostile files -------------------------------------------------------------------

@pytest.fixture(scope="module")
def saved_bytes(tmp_path_factory):
    path = tmp_path_factory.mktemp("saved") / "model.clearcnn"
    trained_model().save(path)
    return path.read_bytes()


@pytest.mark.parametrize("keep", [0, 1, 10, 100, 0.5, -1, -22])
def test_a_truncated_file_is_a_clear_error(tmp_path, saved_bytes, keep):
    cut = int(len(saved_bytes) * keep) if isinstance(keep, float) else keep % len(saved_bytes)
    path = tmp_path / "cut.clearcnn"
    path.write_bytes(saved_bytes[:cut])
    with pytest.raises(ClearCNNError, match="cut.clearcnn"):
        load_model(path)


def test_random_bytes_are_a_clear_error(tmp_path):
    path = tmp_path / "noise.clearcnn"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, size=5000, dtype=np.uint8).tobytes())
    with pytest.raises(ClearCNNError, match="not a clearcnn model file"):
        load_model(path)


def test_every_single_byte_corruption_loads_or_is_a_clear_error(tmp_path):
    """Flip each byte of a small file in turn: the result is either a model or a ClearCNNError, never a
    zlib, zipfile or other internal exception (damaged deflate data used to escape as zlib.error)."""
    model = Sequential([Dense(3, input_shape=(4,))])
    model.compile("sgd", "mse")
    model.save(tmp_path / "good.clearcnn")
    good = (tmp_path / "good.clearcnn").read_bytes()
    path = tmp_path / "bad.clearcnn"
    loaded = errors = 0
    for index in range(len(good)):
        damaged = bytearray(good)
        damaged[index] ^= 0x5A
        path.write_bytes(bytes(damaged))
        try:
            load_model(path)
            loaded += 1
        except ClearCNNError:
            errors += 1
    assert errors > len(good) // 2  # most bytes matter


def write_archive(path, members):
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)


DENSE_CONFIG = {"layers": [{"class_name": "Dense", "config": {"units": 2, "batch_input_shape": [None, 3]}}]}


@pytest.mark.parametrize("meta, message", [
    (b"{not json", "clearcnn.json is not valid JSON"),
    (b"\xff\xfe", "clearcnn.json is not valid JSON"),
    (b"[1, 2, 3]", "format"),
    (json.dumps({"format": "keras", "version": 1}).encode(), "format 'keras'"),
    (json.dumps({"format": "clearcnn", "version": 99}).encode(), "version"),
    (json.dumps({"format": "clearcnn", "version": 1}).encode(), "invalid clearcnn.json: `config`"),
    (json.dumps({"format": "clearcnn", "version": 1, "config": {"layers": [{"class_name": "Lambda", "config": {}}]},
                 "weights": 0, "optimizer": {"iterations": 0, "slots": 0}}).encode(), "Lambda"),
    (json.dumps({"format": "clearcnn", "version": 1, "config": {"layers": "dense"},
                 "weights": 0, "optimizer": {"iterations": 0, "slots": 0}}).encode(), "invalid architecture"),
    (json.dumps({"format": "clearcnn", "version": 1, "config": DENSE_CONFIG,
                 "weights": 2, "optimizer": {"iterations": 0, "slots": 0}}).encode(), "weights/0000.npy"),
    (json.dumps({"format": "clearcnn", "version": 1, "config": DENSE_CONFIG, "weights": 2}).encode(),
     "invalid clearcnn.json: `optimizer`"),
])
def test_a_wrong_or_incomplete_description_is_a_clear_error(tmp_path, meta, message):
    path = tmp_path / "wrong.clearcnn"
    write_archive(path, {"clearcnn.json": meta})
    with pytest.raises(ClearCNNError, match=message):
        load_model(path)


def test_a_zip_without_the_description_is_a_clear_error(tmp_path):
    path = tmp_path / "other.clearcnn"
    write_archive(path, {"readme.txt": b"hello"})
    with pytest.raises(ClearCNNError, match="not a clearcnn model file"):
        load_model(path)


UNPICKLED = []


def _mark_unpickled():
    UNPICKLED.append(True)
    return np.zeros((3, 2), dtype="float32")


class Hostile:
    def __reduce__(self):
        return _mark_unpickled, ()


def saved_with_first_weight(tmp_path, array, allow_pickle=False):
    """A saved Dense(2) model whose weights/0000.npy is replaced by `array`."""
    path = tmp_path / "model.clearcnn"
    Sequential([Dense(2, input_shape=(3,))]).save(path)
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    members["weights/0000.npy"] = buffer.getvalue()
    write_archive(path, members)
    return path


def test_loading_never_unpickles(tmp_path):
    path = saved_with_first_weight(tmp_path, np.array([Hostile()], dtype=object), allow_pickle=True)
    with pytest.raises(ClearCNNError, match="weights/0000.npy"):
        load_model(path)
    assert UNPICKLED == []


def test_weight_shapes_in_the_file_are_checked(tmp_path):
    path = saved_with_first_weight(tmp_path, np.zeros((4, 2), dtype="float32"))
    with pytest.raises(ClearCNNError, match=r"\(3, 2\).*\(4, 2\)"):
        load_model(path)


def test_missing_file_and_keras_names(tmp_path):
    with pytest.raises(ClearCNNError, match="no such file"):
        load_model(tmp_path / "absent.clearcnn")
    with pytest.raises(ClearCNNError, match="no such file"):
        load_model(tmp_path / "model.keras")
    with pytest.raises(ClearCNNError, match="legacy Keras .h5 format is read, not written"):
        Sequential([Dense(2, input_shape=(3,))]).save(tmp_path / "model.h5")
    assert not (tmp_path / "model.h5").exists()


# --- weights only --------------------------------------------------------------------------------

def test_save_weights_load_weights_round_trip(tmp_path):
    model = trained_model()
    path = tmp_path / "w.weights.npz"
    model.save_weights(path)
    set_random_seed(99)
    other = small_cnn()
    assert not same_weights(other.get_weights(), model.get_weights())
    other.load_weights(path)
    assert same_weights(other.get_weights(), model.get_weights())
    x, _ = cnn_data(n=5, seed=4)
    assert np.array_equal(other.predict(x, verbose=0), model.predict(x, verbose=0))
    with np.load(path, allow_pickle=False) as stored:  # an ordinary .npz, keyed by position and name
        assert len(stored.files) == len(model.weights)


def test_load_weights_mistakes(tmp_path):
    model = trained_model()
    path = tmp_path / "w.weights.npz"
    model.save_weights(path)
    wider = Sequential([Conv2D(5, 3, activation="relu", input_shape=(8, 8, 2)), MaxPooling2D(), Flatten(),
                        Dropout(0.3), Dense(3, activation="softmax")])
    with pytest.raises(ClearCNNError, match="shape"):
        wider.load_weights(path)
    deeper = Sequential([Conv2D(4, 3, input_shape=(8, 8, 2)), MaxPooling2D(), Flatten(), Dense(3), Dense(3)])
    with pytest.raises(ClearCNNError, match="holds 4 weight arrays; this model has 6"):
        deeper.load_weights(path)
    with pytest.raises(ClearCNNError, match="no such file"):
        model.load_weights(tmp_path / "absent.weights.npz")
    (tmp_path / "cut.weights.npz").write_bytes(path.read_bytes()[:200])
    with pytest.raises(ClearCNNError, match="corrupt"):
        model.load_weights(tmp_path / "cut.weights.npz")
    np.save(tmp_path / "single.npy", np.zeros(3))
    with pytest.raises(ClearCNNError, match="not a weights file"):
        model.load_weights(tmp_path / "single.npy")
