"""Initializers (clearcnn/initializers.py): every one of Keras 3's set draws the distribution Keras draws (mean,
standard deviation, bounds, truncation, orthogonality) under a fixed seed and fan, takes Keras's arguments, and
its config goes both ways: through keras.initializers and through Keras files whose layers name it."""
import math
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import pytest

from clearcnn import ClearCNNError, initializers
from clearcnn.layers import Conv2D, Dense, Flatten, InputLayer
from clearcnn.models import Sequential, load_model

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy:DeprecationWarning")

CONV, DENSE = (5, 5, 16, 32), (400, 300)  # conv fans: in 5*5*16 = 400, out 5*5*32 = 800
FANS = {CONV: (400, 800), DENSE: (400, 300)}


def truncated_std(cut=2.0):
    """Standard deviation of a standard normal cut at +-cut (closed form)."""
    pdf = math.exp(-cut * cut / 2) / math.sqrt(2 * math.pi)
    return math.sqrt(1 - 2 * cut * pdf / math.erf(cut / math.sqrt(2)))


def expected(name, shape):
    """(mean, std, bound or None) that Keras's rule gives for `name` on `shape`; bound is the largest |value - mean|
    possible."""
    fan_in, fan_out = FANS[shape]
    scaling = {"glorot_uniform": (1, (fan_in + fan_out) / 2, "u"), "glorot_normal": (1, (fan_in + fan_out) / 2, "t"),
               "he_uniform": (2, fan_in, "u"), "he_normal": (2, fan_in, "t"), "lecun_uniform": (1, fan_in, "u"),
               "lecun_normal": (1, fan_in, "t")}
    if name in scaling:
        scale, n, kind = scaling[name]
        std = math.sqrt(scale / n)
        return 0.0, std, std * math.sqrt(3) if kind == "u" else 2 * std / truncated_std()
    return {"random_normal": (0.0, 0.05, None), "random_uniform": (0.0, 0.1 / math.sqrt(12), 0.05),
            "truncated_normal": (0.0, 0.05 * truncated_std(), 0.1)}[name]


RANDOM = ["glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform", "lecun_normal",
          "random_normal", "random_uniform", "truncated_normal"]


@pytest.mark.parametrize("shape", [CONV, DENSE], ids=["conv", "dense"])
@pytest.mark.parametrize("name", RANDOM)
def test_distributions_follow_keras_rules(name, shape):
    values = initializers.get({"class_name": name, "config": {"seed": 7}})(shape).astype(np.float64)
    mean, std, bound = expected(name, shape)
    assert values.shape == shape and values.dtype == np.float64
    assert abs(values.mean() - mean) < 0.02 * std
    assert abs(values.std() - std) < 0.02 * std
    if bound is not None:
        assert np.abs(values - mean).max() <= bound * (1 + 1e-9)
        assert np.abs(values - mean).max() > 0.98 * bound  # the bound is reached: the cut is where it should be


def test_a_seed_repeats_and_no_seed_draws_afresh():
    for name in RANDOM + ["orthogonal"]:
        seeded = initializers.get({"class_name": name, "config": {"seed": 3}})
        np.testing.assert_array_equal(seeded(DENSE), seeded(DENSE))
        unseeded = initializers.get(name)
        assert not np.array_equal(unseeded(DENSE), unseeded(DENSE))


@pytest.mark.parametrize("shape", [(3, 3, 4, 8), (3, 3, 16, 8), (20, 5), (5, 20)])
def test_orthogonal_rows_or_columns_are_orthonormal(shape):
    gain = 1.5
    flat = initializers.Orthogonal(gain=gain, seed=1)(shape, dtype="float64").reshape(-1, shape[-1])
    small = flat.T @ flat if flat.shape[0] >= flat.shape[1] else flat @ flat.T
    np.testing.assert_allclose(small, gain ** 2 * np.eye(len(small)), atol=1e-12)


def test_variance_scaling_arguments():
    fan_in, fan_out = FANS[CONV]
    for mode, n in (("fan_in", fan_in), ("fan_out", fan_out), ("fan_avg", (fan_in + fan_out) / 2)):
        for distribution in ("normal", "truncated_normal", "untruncated_normal", "uniform"):
            init = initializers.VarianceScaling(scale=3.0, mode=mode, distribution=distribution, seed=2)
            values = init(CONV, dtype="float64")
            assert abs(values.std() - math.sqrt(3.0 / n)) < 0.02 * math.sqrt(3.0 / n), (mode, distribution)
            assert init.get_config()["distribution"] != "normal"  # Keras's alias, stored as truncated_normal
    untruncated = initializers.VarianceScaling(distribution="untruncated_normal", seed=2)(DENSE, dtype="float64")
    assert np.abs(untruncated).max() > 3 * math.sqrt(1 / 400)  # tails beyond two stds: not cut
    axes = initializers.VarianceScaling(scale=1.0, input_axes=[0], output_axes=[1], seed=2)
    assert abs(axes((1000, 10), dtype="float64").std() - math.sqrt(1 / 1000)) < 0.03 * math.sqrt(1 / 1000)
    assert initializers.compute_fans(CONV) == FANS[CONV] and initializers.compute_fans((7,)) == (7, 7)


def test_constant_identity_zeros_ones():
    np.testing.assert_array_equal(initializers.Constant(0.25)((2, 3)), np.full((2, 3), 0.25, np.float32))
    np.testing.assert_array_equal(initializers.get("identity")((3, 4)), np.eye(3, 4))
    np.testing.assert_array_equal(initializers.Identity(gain=2.0)((3, 3)), 2 * np.eye(3))
    np.testing.assert_array_equal(initializers.get("zero")((2,)), [0, 0])
    np.testing.assert_array_equal(initializers.get("Ones")((2,)), [1, 1])
    with pytest.raises(ClearCNNError, match="2-D"):
        initializers.Identity()((3, 3, 2, 2))


@pytest.mark.parametrize("make, words", [
    (lambda: initializers.VarianceScaling(mode="fan_sum"), ["`mode`", "fan_sum", "fan_avg"]),
    (lambda: initializers.VarianceScaling(distribution="cauchy"), ["`distribution`", "cauchy", "uniform"]),
    (lambda: initializers.VarianceScaling(scale=0), ["`scale`", "scale=0"]),
    (lambda: initializers.RandomNormal(stddev=-1), ["`stddev`", "stddev=-1"]),
    (lambda: initializers.RandomUniform(minval=1, maxval=0), ["`maxval`", "maxval=0"]),
    (lambda: initializers.Orthogonal(seed=-1), ["`seed`", "seed=-1"]),
    (lambda: initializers.Orthogonal()((4,)), ["Orthogonal", "(4,)"]),
    (lambda: initializers.get({"class_name": "RandomNormal", "config": {"sd": 1}}), ["RandomNormal", "sd"]),
    (lambda: Dense(3, kernel_initializer="stft"), ["`kernel_initializer`", "'stft'", "orthogonal"]),
])
def test_bad_arguments_are_named(make, words):
    with pytest.raises(ClearCNNError) as error:
        make()
    for word in words:
        assert word in str(error.value)


ALL = [(initializers.Zeros, {}), (initializers.Ones, {}), (initializers.Constant, {"value": 0.3}),
       (initializers.Identity, {"gain": 2.0}), (initializers.RandomNormal, {"mean": 0.1, "stddev": 0.2, "seed": 1}),
       (initializers.TruncatedNormal, {"mean": -0.1, "stddev": 0.3, "seed": 2}),
       (initializers.RandomUniform, {"minval": -0.2, "maxval": 0.4, "seed": 3}),
       (initializers.VarianceScaling, {"scale": 0.5, "mode": "fan_out", "distribution": "uniform", "seed": 4}),
       (initializers.GlorotNormal, {"seed": 5}), (initializers.GlorotUniform, {}), (initializers.HeNormal, {"seed": 6}),
       (initializers.HeUniform, {}), (initializers.LecunNormal, {}), (initializers.LecunUniform, {"seed": 7}),
       (initializers.Orthogonal, {"gain": 0.5, "seed": 8})]


@pytest.mark.parametrize("cls, arguments", ALL, ids=[cls.__name__ for cls, _ in ALL])
def test_configs_round_trip_with_keras(cls, arguments):
    keras = pytest.importorskip("keras")
    ours = cls(**arguments)
    theirs = getattr(keras.initializers, cls.__name__)(**arguments)
    read_by_keras = keras.initializers.deserialize({"class_name": cls.__name__, "config": ours.get_config()})
    if cls is initializers.Identity:  # Keras's Identity leaves its gain out of its config; clearcnn keeps it
        assert theirs.get_config() == {} and read_by_keras.gain == ours.gain == 2.0
    else:
        assert ours.get_config() == theirs.get_config() == read_by_keras.get_config()
    back = initializers.get(keras.initializers.serialize(theirs))
    assert type(back) is cls and back.get_config() == (cls().get_config() if cls is initializers.Identity
                                                       else ours.get_config())
    assert initializers.get(initializers.serialize(ours)).get_config() == ours.get_config()
    assert type(initializers.get(initializers.to_snake_case(cls.__name__))) is cls


def keras_sequential(keras):
    L, I = keras.layers, keras.initializers
    return keras.Sequential([
        keras.Input((6, 6, 2)),
        L.Conv2D(4, 3, kernel_initializer=I.Orthogonal(gain=1.2, seed=1), bias_initializer=I.Constant(0.1)),
        L.Conv2D(3, 2, kernel_initializer=I.VarianceScaling(2.0, "fan_avg", "untruncated_normal"),
                 bias_initializer=I.RandomUniform(-0.1, 0.2, seed=4)),
        L.Flatten(),
        L.Dense(5, kernel_initializer=I.TruncatedNormal(stddev=0.02, seed=3), bias_initializer="ones"),
        L.Dense(5, kernel_initializer=I.Identity(), bias_initializer=I.RandomNormal(0.5, 0.01)),
        L.Dense(2, kernel_initializer="lecun_uniform", bias_initializer=I.HeNormal(seed=9))])


def initializer_configs(keras_or_clearcnn_model):
    """(class name, config) of each kernel and bias initializer; Keras's Identity config ({}, its gain left out)
    read as its defaults."""
    def described(initializer):
        name = type(initializer).__name__
        return name, initializers.get({"class_name": name, "config": initializer.get_config()}).get_config()
    return [(described(layer.kernel_initializer), described(layer.bias_initializer))
            for layer in keras_or_clearcnn_model.layers if hasattr(layer, "kernel_initializer")]


def test_keras_files_naming_any_initializer_load_and_go_back(tmp_path):
    keras = pytest.importorskip("keras")
    model = keras_sequential(keras)
    x = np.random.default_rng(0).standard_normal((3, 6, 6, 2)).astype(np.float32)
    model.save(tmp_path / "k.keras")
    ours = load_model(tmp_path / "k.keras")
    np.testing.assert_allclose(ours.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
    assert initializer_configs(ours) == initializer_configs(model)
    ours.save(tmp_path / "c.keras")
    back = keras.saving.load_model(tmp_path / "c.keras")
    assert initializer_configs(back) == initializer_configs(model)
    ours.save(tmp_path / "c.clearcnn")
    assert initializer_configs(load_model(tmp_path / "c.clearcnn")) == initializer_configs(model)


def test_layers_take_initializers_by_name_and_object():
    model = Sequential([InputLayer((4, 4, 3)), Conv2D(8, 2, kernel_initializer="orthogonal",
                                                      bias_initializer=initializers.Constant(0.5)),
                        Flatten(), Dense(4, kernel_initializer=initializers.RandomNormal(stddev=1e-3, seed=1))])
    kernel, bias = model.layers[0].get_weights()
    flat = kernel.reshape(-1, 8).astype(np.float64)
    np.testing.assert_allclose(flat.T @ flat, np.eye(8), atol=1e-5)
    np.testing.assert_array_equal(bias, 0.5)
    assert model.layers[-1].get_weights()[0].std() < 2e-3
    config = model.layers[-1].get_config()["kernel_initializer"]
    assert config == {"class_name": "RandomNormal", "config": {"seed": 1, "mean": 0.0, "stddev": 1e-3}}
    assert Dense.from_config(model.layers[-1].get_config()).kernel_initializer.get_config() == config["config"]
