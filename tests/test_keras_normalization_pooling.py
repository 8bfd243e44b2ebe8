"""BatchNormalization (after a convolution and after a dense layer), GlobalAveragePooling2D and GlobalMaxPooling2D
in Keras files, both ways, with the installed Keras 3: models that Keras trained a few steps (so the moving
statistics are its own) and saved as .keras, .weights.h5 and legacy .h5 load in clearcnn and predict the same;
models that clearcnn trained load in Keras, with the same weights in the same places, and predict the same."""
import os

# Before Keras is imported anywhere: the torch backend (installed for the oracle tests) unless one is chosen.
os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import pytest

from clearcnn.layers import (
    BatchNormalization,
    Conv2D,
    Dense,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    InputLayer,
    MaxPooling2D,
)
from clearcnn.models import Sequential, load_model

h5py = pytest.importorskip("h5py")
pytestmark = [pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy:DeprecationWarning"),
              pytest.mark.filterwarnings("ignore:You are saving your model as an HDF5 file:UserWarning")]

TOLERANCE = 1e-5
INPUT = (10, 9, 3)
# Two architectures: each holds a BatchNormalization after a convolution and one after a dense layer, with the
# options that change the weights (center, scale) and the arithmetic (momentum, epsilon) varied.
ARCHITECTURES = {
    "average": [("conv", {"filters": 5, "kernel_size": 3, "padding": "same"}),
                ("bn", {}),
                ("maxpool", {"pool_size": 2}),
                ("conv", {"filters": 4, "kernel_size": 3, "activation": "relu"}),
                ("bn", {"scale": False, "momentum": 0.8, "epsilon": 0.01,
                        "beta_regularizer": {"class_name": "L2", "config": {"l2": 0.01}},
                        "beta_constraint": {"class_name": "NonNeg", "config": {}}}),
                ("gap", {}),
                ("dense", {"units": 6}),
                ("bn", {"center": False, "momentum": 0.5}),
                ("dense", {"units": 3, "activation": "softmax"})],
    "max": [("conv", {"filters": 6, "kernel_size": 3, "strides": 2}),
            ("bn", {"momentum": 0.7, "gamma_regularizer": {"class_name": "L1", "config": {"l1": 0.02}},
                    "gamma_constraint": {"class_name": "MaxNorm", "config": {"max_value": 1.5, "axis": 0}}}),
            ("gmp", {"keepdims": True}),
            ("gap", {"keepdims": False}),
            ("dense", {"units": 5, "activation": "tanh"}),
            ("bn", {"center": False, "scale": False, "momentum": 0.6}),
            ("dense", {"units": 2})],
}


@pytest.fixture(scope="session")
def keras():
    return pytest.importorskip("keras", reason="Keras is not installed")


def keras_model(keras, name):
    L = keras.layers
    classes = {"conv": L.Conv2D, "bn": L.BatchNormalization, "maxpool": L.MaxPooling2D,
               "gap": L.GlobalAveragePooling2D, "gmp": L.GlobalMaxPooling2D, "dense": L.Dense}
    return keras.Sequential([keras.Input(shape=INPUT)] + [classes[kind](**kwargs) for kind, kwargs in
                                                          ARCHITECTURES[name]])


def clearcnn_model(name):
    classes = {"conv": Conv2D, "bn": BatchNormalization, "maxpool": MaxPooling2D, "gap": GlobalAveragePooling2D,
               "gmp": GlobalMaxPooling2D, "dense": Dense}
    return Sequential([InputLayer(shape=INPUT)] + [classes[kind](**kwargs, name=f"mine_{i}") for i, (kind, kwargs)
                                                   in enumerate(ARCHITECTURES[name])])


def data(seed, count=12):
    """Inputs away from zero mean and unit variance, so that the statistics matter; labels for 3 classes."""
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(count, *INPUT)) * 2 + 0.5).astype("float32"), rng.integers(0, 2, count)


def assert_close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=0, atol=TOLERANCE)


def statistics_moved(weights, initial):
    return any(not np.allclose(w, i) for w, i in zip(weights, initial))


@pytest.fixture(scope="session")
def keras_files(keras, tmp_path_factory):
    """For each architecture, written by the installed Keras once a session: built, fitted three steps with Adam
    (so the moving statistics and every weight have moved), saved three ways beside inputs and Keras's outputs."""
    folder = tmp_path_factory.mktemp("keras_bn_pooling")
    for name in ARCHITECTURES:
        keras.utils.set_random_seed(1)
        model = keras_model(keras, name)
        initial = [np.asarray(w) for w in model.get_weights()]
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy" if name == "average" else "mse")
        x, y = data(2)
        model.fit(x, y if name == "average" else np.eye(2)[y], batch_size=4, epochs=1, verbose=0)
        assert statistics_moved([np.asarray(w) for w in model.get_weights()], initial)
        probe, _ = data(3, count=5)
        np.savez(folder / f"{name}_io.npz", x=probe, y=np.asarray(model.predict(probe, verbose=0)))
        model.save(folder / f"{name}.keras")
        model.save_weights(folder / f"{name}.weights.h5")
        model.save(folder / f"{name}_legacy.h5")
        np.savez(folder / f"{name}_weights.npz", *[np.asarray(w) for w in model.get_weights()])
    return folder


def expected(folder, name):
    with np.load(folder / f"{name}_io.npz") as io, np.load(folder / f"{name}_weights.npz") as weights:
        return io["x"], io["y"], [weights[f"arr_{i}"] for i in range(len(weights.files))]


@pytest.mark.parametrize("file", ["{}.keras", "{}_legacy.h5"])
@pytest.mark.parametrize("name", ARCHITECTURES)
def test_keras_written_models_load_and_predict_the_same(keras_files, name, file):
    x, y, weights = expected(keras_files, name)
    model = load_model(keras_files / file.format(name))
    assert [type(layer) for layer in model.layers] == [type(layer) for layer in clearcnn_model(name).layers]
    for mine, theirs in zip(model.get_weights(), weights, strict=True):
        np.testing.assert_array_equal(mine, theirs)
    bn = [layer for layer in model.layers if isinstance(layer, BatchNormalization)]
    assert [(layer.momentum, layer.epsilon, layer.center, layer.scale) for layer in bn] == [
        (kwargs.get("momentum", 0.99), kwargs.get("epsilon", 1e-3), kwargs.get("center", True),
         kwargs.get("scale", True)) for kind, kwargs in ARCHITECTURES[name] if kind == "bn"]
    for layer, (_, kwargs) in zip(bn, [entry for entry in ARCHITECTURES[name] if entry[0] == "bn"]):
        for option in ("beta_regularizer", "gamma_regularizer", "beta_constraint", "gamma_constraint"):
            written = (layer.get_config()[option] or {}).get("class_name")
            assert written == kwargs.get(option, {}).get("class_name"), option
    assert_close(model.predict(x, verbose=0), y)


@pytest.mark.parametrize("file", ["{}.weights.h5", "{}_legacy.h5", "{}.keras"])
@pytest.mark.parametrize("name", ARCHITECTURES)
def test_keras_written_weights_load_into_a_clearcnn_model(keras_files, name, file):
    x, y, _ = expected(keras_files, name)
    model = clearcnn_model(name)
    model.load_weights(keras_files / file.format(name))
    assert_close(model.predict(x, verbose=0), y)


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_clearcnn_written_files_load_in_keras_and_predict_the_same(keras, tmp_path, name):
    from clearcnn.utils import set_random_seed
    set_random_seed(4)
    model = clearcnn_model(name)
    initial = model.get_weights()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy" if name == "average" else "mse")
    x, y = data(5)
    model.fit(x, y if name == "average" else np.eye(2)[y], batch_size=4, epochs=1, verbose=0)
    assert statistics_moved(model.get_weights(), initial)
    probe, _ = data(6, count=5)
    outputs = model.predict(probe, verbose=0)
    model.save(tmp_path / "c.keras")
    model.save_weights(tmp_path / "c.weights.h5")

    loaded = keras.saving.load_model(tmp_path / "c.keras")
    assert [type(layer).__name__ for layer in loaded.layers] == [type(layer).__name__ for layer in model.layers]
    for mine, theirs in zip(model.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(mine, np.asarray(theirs))
    for theirs in (layer for layer in loaded.layers if type(layer).__name__ == "BatchNormalization"):
        assert [w.trainable for w in theirs.weights] == [True] * (theirs.center + theirs.scale) + [False, False]
    assert_close(np.asarray(loaded.predict(probe, verbose=0)), outputs)

    built = keras_model(keras, name)
    built.load_weights(tmp_path / "c.weights.h5")
    assert_close(np.asarray(built.predict(probe, verbose=0)), outputs)
    assert_close(load_model(tmp_path / "c.keras").predict(probe, verbose=0), outputs)


def test_keras_trains_the_statistics_as_clearcnn_does(keras):
    """One training step from the same weights: the moving statistics (and the outputs in training mode) agree."""
    keras.utils.set_random_seed(0)
    theirs = keras_model(keras, "average")
    mine = clearcnn_model("average")
    mine.set_weights([np.asarray(w) for w in theirs.get_weights()])
    x, _ = data(7, count=6)
    assert_close(mine(x, training=True), keras.ops.convert_to_numpy(theirs(x, training=True)))
    for a, b in zip(mine.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_allclose(a, keras.ops.convert_to_numpy(b), rtol=1e-5, atol=1e-6)
    assert statistics_moved(mine.get_weights(), clearcnn_model("average").get_weights())
