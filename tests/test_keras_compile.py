"""Compiled models through files (clearcnn/saving/keras_compile.py, native.py): a model trained a few steps in Keras
3, saved as .keras, loads in clearcnn compiled with the same optimizer, settings and state, and its next fit step
gives Keras's own next step; the reverse too. What clearcnn lacks gives a warning and an uncompiled model."""
import os
import warnings

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import pytest

import clearcnn
from clearcnn.models import load_model

keras = pytest.importorskip("keras")
pytestmark = [pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy:DeprecationWarning"),
              pytest.mark.filterwarnings("ignore:You are saving your model as an HDF5 file:UserWarning")]
TOLERANCE = 1e-5

rng = np.random.default_rng(0)
X = rng.normal(size=(20, 6, 6, 2)).astype(np.float32)
Y = rng.integers(0, 3, size=20)


def layers(module):
    L = module.layers
    return [module.Input((6, 6, 2)), L.Conv2D(4, 3, activation="relu"), L.MaxPooling2D(2), L.Flatten(),
            L.Dense(3, activation="softmax")]


def keras_optimizers():
    O = keras.optimizers
    return {"adam": lambda: O.Adam(learning_rate=0.0037, beta_1=0.8, epsilon=1e-6),
            "sgd-momentum": lambda: O.SGD(learning_rate=0.05, momentum=0.9, nesterov=True),
            "sgd-plain-decay": lambda: O.SGD(learning_rate=0.1, weight_decay=0.01),
            "rmsprop-momentum": lambda: O.RMSprop(learning_rate=0.01, rho=0.8, momentum=0.5),
            "adamw": lambda: O.AdamW(learning_rate=0.01, weight_decay=0.05),
            "adam-schedule": lambda: O.Adam(O.schedules.ExponentialDecay(0.01, decay_steps=2, decay_rate=0.5))}


def keras_steps(model, steps):
    for step in range(steps):
        model.train_on_batch(X[4 * step:4 * step + 4], Y[4 * step:4 * step + 4])


def assert_same_weights(ours, theirs, tolerance=TOLERANCE):
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, keras.ops.convert_to_numpy(b), rtol=0, atol=tolerance)


def one_more_fit_step(model):
    model.fit(X[16:20], Y[16:20], batch_size=4, epochs=1, shuffle=False, verbose=0)


def settings(optimizer):
    """The optimizer's class and the settings both libraries share, a schedule's among them."""
    config = dict(optimizer.get_config())
    rate = config.pop("learning_rate")
    flat = {"class": type(optimizer).__name__}
    if isinstance(rate, dict):  # a schedule: its class and settings
        flat.update({"schedule": rate["class_name"], **{f"schedule.{k}": v for k, v in rate["config"].items()}})
    else:
        flat["learning_rate"] = rate
    shared = ("weight_decay", "momentum", "nesterov", "beta_1", "beta_2", "epsilon", "rho")
    return {**flat, **{k: config[k] for k in shared if k in config}}


def assert_same_settings(ours, theirs):
    a, b = settings(ours), settings(theirs)
    assert a.keys() == b.keys()
    for key in a:
        assert a[key] == (pytest.approx(b[key], rel=1e-6) if isinstance(b[key], float) else b[key]), key


@pytest.mark.parametrize("name", list(keras_optimizers()))
def test_a_keras_trained_model_resumes_in_clearcnn(tmp_path, name):
    theirs = keras.Sequential(layers(keras))
    theirs.compile(keras_optimizers()[name](), "sparse_categorical_crossentropy", metrics=["accuracy"])
    keras_steps(theirs, 3)
    theirs.save(tmp_path / "k.keras")
    ours = load_model(tmp_path / "k.keras")
    assert_same_settings(ours.optimizer, theirs.optimizer)
    assert ours.optimizer.iterations == 3 and ours.metrics_names == ["loss", "accuracy"]
    assert type(ours.loss).__name__ == "SparseCategoricalCrossentropy"
    one_more_fit_step(ours)
    one_more_fit_step(theirs)
    assert_same_weights(ours, theirs)
    # the state mattered: a fresh optimizer's step lands elsewhere (except for plain SGD, which keeps none)
    fresh = load_model(tmp_path / "k.keras", compile=False)
    assert fresh.optimizer is None and fresh.loss is None
    if name != "sgd-plain-decay":
        fresh.compile(ours.optimizer.from_config(load_model(tmp_path / "k.keras").optimizer.get_config()),
                      "sparse_categorical_crossentropy")
        one_more_fit_step(fresh)
        with pytest.raises(AssertionError):
            assert_same_weights(fresh, theirs)


@pytest.mark.parametrize("name", ["adam", "sgd-momentum", "rmsprop-momentum", "adam-schedule"])
def test_a_clearcnn_trained_model_resumes_in_keras(tmp_path, name):
    O = clearcnn.optimizers
    ours_optimizer = {"adam": lambda: O.Adam(learning_rate=0.0037, beta_1=0.8, epsilon=1e-6),
                      "sgd-momentum": lambda: O.SGD(learning_rate=0.05, momentum=0.9, nesterov=True),
                      "rmsprop-momentum": lambda: O.RMSprop(learning_rate=0.01, rho=0.8, momentum=0.5),
                      "adam-schedule": lambda: O.Adam(O.schedules.ExponentialDecay(0.01, 2, 0.5))}[name]
    ours = clearcnn.Sequential(layers(clearcnn))
    ours.compile(ours_optimizer(), "sparse_categorical_crossentropy", metrics=["accuracy"])
    keras_steps(ours, 3)
    ours.save(tmp_path / "c.keras")
    theirs = keras.saving.load_model(tmp_path / "c.keras")
    assert int(keras.ops.convert_to_numpy(theirs.optimizer.iterations)) == 3
    assert_same_settings(ours.optimizer, theirs.optimizer)
    one_more_fit_step(theirs)
    one_more_fit_step(ours)
    assert_same_weights(ours, theirs)


def test_what_clearcnn_lacks_gives_a_warning_and_an_uncompiled_model(tmp_path):
    for optimizer, loss, word in [(keras.optimizers.Nadam(), "sparse_categorical_crossentropy", "Nadam"),
                                  (keras.optimizers.SGD(clipnorm=1.0), "sparse_categorical_crossentropy", "clipnorm"),
                                  ("adam", keras.losses.Huber(), "Huber")]:
        theirs = keras.Sequential(layers(keras))
        theirs.compile(optimizer, loss)
        labels = keras.utils.to_categorical(Y[:4], 3) if word == "Huber" else Y[:4]
        theirs.train_on_batch(X[:4], labels)
        theirs.save(tmp_path / "k.keras")
        with pytest.warns(UserWarning, match=word) as caught:
            ours = load_model(tmp_path / "k.keras")
        assert "uncompiled" in str(caught[0].message)
        assert ours.optimizer is None and ours.loss is None
        np.testing.assert_allclose(ours.predict(X, verbose=0), keras.ops.convert_to_numpy(theirs.predict(X, verbose=0)),
                                   atol=TOLERANCE)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert load_model(tmp_path / "k.keras", compile=False).optimizer is None  # asked for: no warning


def test_an_uncompiled_keras_file_loads_uncompiled_and_back(tmp_path):
    theirs = keras.Sequential(layers(keras))
    theirs.save(tmp_path / "k.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        ours = load_model(tmp_path / "k.keras")
    assert ours.optimizer is None
    ours.save(tmp_path / "c.keras")
    assert not keras.saving.load_model(tmp_path / "c.keras").compiled


def test_native_files_keep_weight_decay_schedules_regularizers_and_state(tmp_path):
    O = clearcnn.optimizers
    model = clearcnn.Sequential([clearcnn.Input((6, 6, 2)),
                                 clearcnn.layers.Conv2D(4, 3, kernel_regularizer="l2",
                                                        kernel_constraint=clearcnn.constraints.MaxNorm(1.0)),
                                 clearcnn.layers.Flatten(), clearcnn.layers.Dense(3)])
    model.compile(O.Adam(O.schedules.PiecewiseConstantDecay([2], [0.01, 0.001]), weight_decay=0.1),
                  clearcnn.losses.SparseCategoricalCrossentropy(from_logits=True))
    keras_steps(model, 2)
    model.save(tmp_path / "m.clearcnn")
    loaded = load_model(tmp_path / "m.clearcnn")
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    one_more_fit_step(model)
    one_more_fit_step(loaded)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def rewrite(path, target, config=None, weights=None):
    """A copy of the .keras archive `path` at `target` with config.json and/or model.weights.h5 replaced."""
    import json
    import zipfile
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    if config is not None:
        members["config.json"] = json.dumps(config).encode()
    if weights is not None:
        members["model.weights.h5"] = weights
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return target


@pytest.mark.parametrize("mangle", [lambda c: c.update(optimizer={"class_name": 5, "config": []}),
                                    lambda c: c.update(optimizer="adam", loss={"class_name": "Nope"}),
                                    lambda c: c.update(metrics={"not": "a list"}),
                                    lambda c: c.update(loss_weights=[2.0]),
                                    lambda c: c["optimizer"]["config"].update(learning_rate={"class_name": "Cyclic"})])
def test_mangled_compile_settings_give_a_warning_and_an_uncompiled_model(tmp_path, mangle):
    import json
    import zipfile
    theirs = keras.Sequential(layers(keras))
    theirs.compile("adam", "sparse_categorical_crossentropy")
    keras_steps(theirs, 1)
    theirs.save(tmp_path / "k.keras")
    config = json.loads(zipfile.ZipFile(tmp_path / "k.keras").read("config.json"))
    mangle(config["compile_config"])
    with pytest.warns(UserWarning, match="uncompiled"):
        ours = load_model(rewrite(tmp_path / "k.keras", tmp_path / "m.keras", config=config))
    assert ours.optimizer is None


def test_optimizer_state_of_another_shape_is_refused_and_of_another_count_starts_afresh(tmp_path):
    import io
    import zipfile
    h5py = pytest.importorskip("h5py")
    theirs = keras.Sequential(layers(keras))
    theirs.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    keras_steps(theirs, 2)
    theirs.save(tmp_path / "k.keras")

    def edited(edit):
        buffer = io.BytesIO(zipfile.ZipFile(tmp_path / "k.keras").read("model.weights.h5"))
        with h5py.File(buffer, "a") as file:
            edit(file["optimizer/vars"])
        return rewrite(tmp_path / "k.keras", tmp_path / "edited.keras", weights=buffer.getvalue())

    def reshape(group):
        del group["2"]
        group.create_dataset("2", data=np.zeros((7,), np.float32))
    with pytest.raises(clearcnn.ClearCNNError, match="optimizer/vars/2"):
        load_model(edited(reshape))
    with pytest.warns(UserWarning, match="starts afresh"):
        ours = load_model(edited(lambda group: group.create_dataset("99", data=np.zeros(1))))
    assert ours.optimizer.iterations == 0 and type(ours.optimizer).__name__ == "Adam"
