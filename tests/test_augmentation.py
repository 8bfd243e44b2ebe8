"""Image augmentation and preprocessing layers (clearcnn/layers/augmentation.py, ops/reference/resample.py and
image.py, ops/transforms.py): identity outside training, reproducible under a seed, flips and quarter turns equal
to NumPy's, rotation, zoom, translation and resizing equal to a naive per-pixel reference, to Pillow and to real
Keras 3 on the same transform, gradients against central differences, configs and files both ways, and a
ClearCNNError naming every bad argument."""
import os

# Before Keras is imported anywhere: the torch backend (installed for the oracle tests) unless one is chosen.
os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import pytest

from clearcnn import ClearCNNError, ops
from clearcnn.layers import (
    CenterCrop,
    Conv2D,
    Dense,
    Flatten,
    RandomBrightness,
    RandomContrast,
    RandomCrop,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
    Resizing,
)
from clearcnn.models import Sequential, load_model
from clearcnn.utils import set_random_seed

pytestmark = [pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy:DeprecationWarning"),
              pytest.mark.filterwarnings("ignore:You are using a softmax over axis -1:UserWarning")]

RANDOM_LAYERS = {
    "RandomFlip": lambda **kw: RandomFlip(**kw),
    "RandomRotation": lambda **kw: RandomRotation(0.2, **kw),
    "RandomZoom": lambda **kw: RandomZoom(0.3, 0.2, **kw),
    "RandomTranslation": lambda **kw: RandomTranslation(0.2, 0.3, **kw),
    "RandomContrast": lambda **kw: RandomContrast(0.5, **kw),
    "RandomBrightness": lambda **kw: RandomBrightness(0.3, **kw),
    "RandomCrop": lambda **kw: RandomCrop(5, 6, **kw),
}
FILL_MODES = ("reflect", "wrap", "nearest", "constant")


def images(shape=(4, 9, 11, 3), seed=0, dtype="float32"):
    return (np.random.default_rng(seed).random(shape) * 255).astype(dtype)


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras", reason="Keras is not installed")


# --- training only, reproducible -----------------------------------------------------------------------

@pytest.mark.parametrize("name", [n for n in RANDOM_LAYERS if n != "RandomCrop"])
def test_random_layers_are_the_identity_outside_training_and_change_images_in_training(name):
    x = images()
    layer = RANDOM_LAYERS[name](seed=1)
    np.testing.assert_array_equal(layer(x), x)
    trained = layer(x, training=True)
    assert trained.shape == x.shape and trained.dtype == x.dtype
    assert not np.array_equal(trained, x)


def test_predict_and_evaluate_leave_images_alone_and_fit_transforms_them(monkeypatch):
    x, y = images((6, 8, 8, 1)), np.arange(6) % 2
    augmentation = [RandomFlip(), RandomRotation(0.1), RandomZoom(0.1), RandomTranslation(0.1, 0.1),
                    RandomContrast(0.2), RandomBrightness(0.1)]
    model = Sequential([*augmentation, Flatten(), Dense(2, activation="softmax")])
    model.build((None, 8, 8, 1))
    model.compile("sgd", "sparse_categorical_crossentropy")
    calls = []
    for layer in augmentation:
        monkeypatch.setattr(layer, "transform", lambda h, layer=layer: (calls.append(layer.name), type(layer).transform(
            layer, h))[1])
    head = Sequential([Flatten(), Dense(2, activation="softmax")])
    head.build((None, 8, 8, 1))
    head.set_weights(model.get_weights())
    np.testing.assert_allclose(model.predict(x, verbose=0), head.predict(x, verbose=0), rtol=1e-6)
    model.evaluate(x, y, verbose=0)
    assert calls == []
    model.fit(x, y, batch_size=3, epochs=1, verbose=0)
    assert calls == [layer.name for _ in range(2) for layer in augmentation]  # two batches, every layer


@pytest.mark.parametrize("name", list(RANDOM_LAYERS))
def test_the_same_seed_gives_the_same_output_and_another_seed_another(name):
    x = images((6, 9, 11, 3))
    first = RANDOM_LAYERS[name](seed=7)(x, training=True)
    np.testing.assert_array_equal(RANDOM_LAYERS[name](seed=7)(x, training=True), first)
    assert not np.array_equal(RANDOM_LAYERS[name](seed=8)(x, training=True), first)
    set_random_seed(3)
    shared = RANDOM_LAYERS[name]()(x, training=True)
    set_random_seed(3)
    np.testing.assert_array_equal(RANDOM_LAYERS[name]()(x, training=True), shared)


def test_a_model_trains_the_same_twice_under_set_random_seed():
    x, y = images((8, 8, 8, 1)), np.arange(8) % 2

    def train():
        set_random_seed(11)
        model = Sequential([RandomFlip(), RandomRotation(0.2), RandomCrop(6, 6), Conv2D(2, 3), Flatten(),
                            Dense(2, activation="softmax")])
        model.build((None, 8, 8, 1))
        model.compile("sgd", "sparse_categorical_crossentropy")
        model.fit(x / 255, y, batch_size=4, epochs=2, verbose=0)
        return model.get_weights()

    for a, b in zip(train(), train()):
        np.testing.assert_array_equal(a, b)


# --- exact cases -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode, flip", [("horizontal", lambda a: a[:, ::-1]), ("vertical", lambda a: a[::-1]),
                                        ("horizontal_and_vertical", lambda a: a[::-1, ::-1])])
def test_each_image_is_either_kept_or_flipped_exactly(mode, flip):
    x = images((64, 5, 7, 2))
    y = RandomFlip(mode, seed=0)(x, training=True)
    flipped = [not np.array_equal(out, image) for image, out in zip(x, y)]
    for image, out, was_flipped in zip(x, y, flipped):
        np.testing.assert_array_equal(out, flip(image) if was_flipped else image)
    assert 16 < sum(flipped) < 48


@pytest.mark.parametrize("turns, k", [(0.25, 1), (0.5, 2), (-0.25, -1), (0.75, 3)])
@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
def test_quarter_turns_equal_numpy_rot90(turns, k, interpolation):
    x = images((3, 7, 7, 2))
    y = RandomRotation((turns, turns), interpolation=interpolation, seed=0)(x, training=True)
    expected = np.rot90(x, k=k, axes=(1, 2))  # positive turns are counter-clockwise, as np.rot90
    if interpolation == "nearest":
        np.testing.assert_array_equal(y, expected)
    else:
        np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-4)


def test_a_half_turn_of_a_wide_image_equals_numpy():
    x = images((2, 5, 9, 1))
    np.testing.assert_array_equal(RandomRotation((0.5, 0.5), interpolation="nearest")(x, training=True),
                                  x[:, ::-1, ::-1])


def test_random_crop_in_training_takes_a_window_of_the_image():
    x = images((3, 10, 12, 2))
    y = RandomCrop(4, 5, seed=3)(x, training=True)
    windows = [(top, left) for top in range(7) for left in range(8)
               if np.array_equal(x[:, top:top + 4, left:left + 5], y)]
    assert len(windows) == 1


def test_random_crop_outside_training_and_center_crop_take_the_centre():
    x = images((2, 10, 12, 3))
    np.testing.assert_array_equal(CenterCrop(4, 6)(x), x[:, 3:7, 3:9])
    np.testing.assert_array_equal(CenterCrop(10, 12)(x), x)
    np.testing.assert_array_equal(RandomCrop(10, 12)(x, training=True), x)
    # outside training: the largest centred window of the target aspect ratio (10 x 10 here), resized
    np.testing.assert_allclose(RandomCrop(5, 5)(x), Resizing(5, 5)(x[:, :, 1:11]), rtol=1e-6)


def test_contrast_and_brightness_follow_their_formulas():
    x = images((5, 6, 7, 3))
    layer = RandomContrast((0.4, 0.4), seed=2)
    y = layer(x, training=True)
    mean = x.mean(axis=(1, 2), keepdims=True)
    factors = np.random.default_rng(2).uniform(0.6, 1.4, 5)[:, None, None, None]
    np.testing.assert_allclose(y, np.clip((x - mean) * factors + mean, 0, 255), rtol=1e-5, atol=1e-3)
    deltas = np.random.default_rng(4).uniform(-0.3, 0.3, 5)[:, None, None, None] * 2
    np.testing.assert_allclose(RandomBrightness(0.3, value_range=(1, -1), seed=4)(x / 255, training=True),
                               np.clip(x / 255 + deltas, -1, 1), rtol=1e-5, atol=1e-6)


# --- resampling against references -----------------------------------------------------------------------

def naive_affine(image, matrix, interpolation, fill_mode, fill_value):
    """Keras's affine_transform, one pixel at a time: the reference the vectorised kernel is held to."""
    height, width = image.shape[:2]

    def fix(i, n):
        if fill_mode == "wrap":
            return i % n
        if fill_mode == "reflect":
            i %= 2 * n
            return i if i < n else 2 * n - 1 - i
        return min(max(i, 0), n - 1)

    def pixel(r, c):
        if fill_mode == "constant" and not (0 <= r < height and 0 <= c < width):
            return np.full(image.shape[2], fill_value)
        return image[fix(r, height), fix(c, width)]

    out = np.zeros(image.shape)
    for y in range(height):
        for x in range(width):
            xi = matrix[0, 0] * x + matrix[0, 1] * y + matrix[0, 2]
            yi = matrix[1, 0] * x + matrix[1, 1] * y + matrix[1, 2]
            if interpolation == "nearest":
                out[y, x] = pixel(int(np.rint(yi)), int(np.rint(xi)))
            else:
                r, c = int(np.floor(yi)), int(np.floor(xi))
                dy, dx = yi - r, xi - c
                out[y, x] = ((1 - dy) * (1 - dx) * pixel(r, c) + (1 - dy) * dx * pixel(r, c + 1)
                             + dy * (1 - dx) * pixel(r + 1, c) + dy * dx * pixel(r + 1, c + 1))
    return out


@pytest.mark.parametrize("fill_mode", FILL_MODES)
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_affine_kernel_equals_a_naive_per_pixel_reference(fill_mode, interpolation):
    x = images((3, 6, 8, 2), dtype="float64")
    matrices = ops.affine_matrices(6, 8, 3, angle=[0.4, -1.1, 2.5], zoom=[[1.3, 0.8], [0.7, 0.7], [1.0, 1.6]],
                                   shift=[[1.5, -2.2], [0, 0], [-7.3, 4.1]])
    y, _ = ops.affine_forward(ops.swap_batch_axis(x), matrices, interpolation, fill_mode, 5.0)
    y = ops.swap_batch_axis(y)
    for image, matrix, out in zip(x, matrices, y):
        np.testing.assert_allclose(out, naive_affine(image, matrix, interpolation, fill_mode, 5.0), atol=1e-9)


def test_affine_matrices_compose_zoom_rotation_and_shift_about_the_centre():
    matrix = ops.affine_matrices(5, 9, 1, angle=[np.pi / 2], zoom=[[2.0, 3.0]], shift=[[1.0, -1.0]])[0]
    centre = np.array([4.0, 2.0])
    linear = np.diag([2.0, 3.0]) @ np.array([[0.0, -1.0], [1.0, 0.0]])
    for point in ([0.0, 0.0], [8.0, 4.0], [3.0, 1.0]):
        expected = centre + linear @ (np.array(point) - centre) - np.array([1.0, -1.0])
        np.testing.assert_allclose(matrix @ [*point, 1.0], expected, atol=1e-12)


def test_rotation_equals_pillow_inside_the_image():
    from PIL import Image
    x = images((1, 24, 32, 1), dtype="float32")
    angle = 0.3
    y = RandomRotation((angle / (2 * np.pi),) * 2, fill_mode="constant", seed=0)(x, training=True)[0, :, :, 0]
    matrix = ops.affine_matrices(24, 32, 1, angle=[angle])[0]
    linear, offset = matrix[:, :2], matrix[:, 2]
    pillow_offset = offset - linear @ [0.5, 0.5] + 0.5  # Pillow's pixel centres sit at +0.5
    data = (*linear[0], pillow_offset[0], *linear[1], pillow_offset[1])
    expected = np.asarray(Image.fromarray(x[0, :, :, 0], mode="F").transform((32, 24), Image.AFFINE, data,
                                                                            Image.BILINEAR))
    rows, columns = np.mgrid[0:24, 0:32]
    x_in = linear[0, 0] * columns + linear[0, 1] * rows + offset[0]
    y_in = linear[1, 0] * columns + linear[1, 1] * rows + offset[1]
    inside = (x_in >= 1) & (x_in <= 30) & (y_in >= 1) & (y_in <= 22)
    assert inside.sum() > 300
    np.testing.assert_allclose(y[inside], expected[inside], atol=1e-3)


@pytest.mark.parametrize("size, antialias", [((29, 40), False), ((26, 34), True), ((5, 7), True), ((20, 9), True)])
def test_resizing_equals_pillow_bilinear(size, antialias):
    from PIL import Image
    x = images((1, 13, 17, 1), dtype="float32") / 255
    expected = np.asarray(Image.fromarray(x[0, :, :, 0], mode="F").resize(size[::-1], Image.BILINEAR))
    np.testing.assert_allclose(Resizing(*size, antialias=antialias)(x)[0, :, :, 0], expected, atol=1e-6)


KERAS_CASES = [
    ("RandomRotation", {"factor": (0.1, 0.1)}),
    ("RandomRotation", {"factor": (-0.07, -0.07), "fill_mode": "constant", "fill_value": 3.0}),
    ("RandomRotation", {"factor": (0.13, 0.13), "fill_mode": "wrap", "interpolation": "nearest"}),
    ("RandomRotation", {"factor": (0.3, 0.3), "fill_mode": "nearest"}),
    ("RandomZoom", {"height_factor": (0.3, 0.3), "width_factor": (-0.2, -0.2)}),
    ("RandomZoom", {"height_factor": (-0.4, -0.4), "fill_mode": "constant"}),
    ("RandomTranslation", {"height_factor": (0.2, 0.2), "width_factor": (-0.3, -0.3)}),
    ("RandomTranslation", {"height_factor": (0.15, 0.15), "width_factor": (0.33, 0.33), "fill_mode": "wrap"}),
    ("RandomBrightness", {"factor": (0.1, 0.1)}),
    ("Resizing", {"height": 7, "width": 30}),
    ("Resizing", {"height": 5, "width": 6, "interpolation": "nearest"}),
    ("Resizing", {"height": 29, "width": 8, "antialias": True}),
    ("Resizing", {"height": 10, "width": 10, "crop_to_aspect_ratio": True}),
    ("Resizing", {"height": 10, "width": 10, "pad_to_aspect_ratio": True, "fill_value": 7.0}),
    ("CenterCrop", {"height": 5, "width": 8}),
    ("CenterCrop", {"height": 20, "width": 8}),
]


@pytest.mark.parametrize("name, kwargs", KERAS_CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(KERAS_CASES)])
def test_equal_to_keras_on_the_same_transform(keras, name, kwargs):
    """A factor (a, a) draws the same transform every time, in Keras and here."""
    import clearcnn.layers
    x = images((3, 13, 17, 2))
    expected = np.asarray(getattr(keras.layers, name)(**kwargs)(x, training=True))
    np.testing.assert_allclose(getattr(clearcnn.layers, name)(**kwargs)(x, training=True), expected, atol=1e-3)


@pytest.mark.parametrize("make", [lambda: RandomRotation(0.2), lambda: Resizing(5, 7), lambda: CenterCrop(20, 20),
                                  lambda: RandomCrop(4, 4), lambda: RandomFlip()])
def test_float64_stays_float64(make):
    layer = make()
    layer.dtype = "float64"
    x = images(dtype="float64")
    assert layer(x, training=True).dtype == np.float64


# --- gradients -------------------------------------------------------------------------------------------

GRADIENT_LAYERS = [
    lambda: RandomFlip(seed=1), lambda: RandomFlip("vertical", seed=2),
    lambda: RandomRotation(0.3, seed=1), lambda: RandomRotation(0.3, interpolation="nearest", seed=1),
    lambda: RandomRotation(0.3, fill_mode="constant", fill_value=2.0, seed=1),
    lambda: RandomZoom(0.4, fill_mode="wrap", seed=1), lambda: RandomTranslation(0.3, 0.3, fill_mode="nearest", seed=1),
    lambda: RandomContrast(0.5, value_range=(-1e3, 1e3), seed=1), lambda: RandomContrast(0.5, value_range=(0.2, 0.8), seed=1),
    lambda: RandomBrightness(0.3, value_range=(0, 1), seed=1), lambda: RandomCrop(3, 4, seed=1),
    lambda: RandomCrop(9, 9, seed=1), lambda: CenterCrop(3, 3), lambda: Resizing(7, 3),
    lambda: Resizing(4, 4, crop_to_aspect_ratio=True, antialias=True),
    lambda: Resizing(4, 4, pad_to_aspect_ratio=True, fill_value=1.0, interpolation="nearest"),
]


@pytest.mark.parametrize("index", range(len(GRADIENT_LAYERS)))
def test_backward_equals_central_differences(index):
    """Each draw is repeated exactly (the layer's generator is re-seeded before every pass)."""
    layer = GRADIENT_LAYERS[index]()
    layer.dtype = "float64"
    rng = np.random.default_rng(index)
    x = rng.random((3, 5, 6, 2))  # internal layout (C, H, W, N); clipping's kinks are almost never met
    layer.build((None, 5, 6, 3))

    def forward(h):
        layer.rng = np.random.default_rng(5)
        return layer.forward(h, training=True)

    weights = rng.normal(size=forward(x).shape)
    dx = layer.backward(weights)
    numeric = np.zeros_like(x)
    step = 1e-6
    for i in np.ndindex(x.shape):
        shifted = x.copy()
        shifted[i] += step
        up = (forward(shifted) * weights).sum()
        shifted[i] -= 2 * step
        numeric[i] = (up - (forward(shifted) * weights).sum()) / (2 * step)
    np.testing.assert_allclose(dx, numeric, atol=1e-6)


def test_augmentation_after_a_convolution_trains():
    x, y = images((6, 8, 8, 1)) / 255, np.arange(6) % 2
    model = Sequential([Conv2D(2, 3, input_shape=(8, 8, 1)), RandomRotation(0.1, seed=0), RandomFlip(seed=0),
                        RandomCrop(5, 5, seed=0), Flatten(), Dense(2, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy")
    before = model.get_weights()[0].copy()
    history = model.fit(x, y, epochs=2, batch_size=3, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert not np.array_equal(model.get_weights()[0], before)


# --- configs and files -----------------------------------------------------------------------------------

def every_layer():
    return [RandomFlip("horizontal", seed=1), RandomRotation((-0.1, 0.2), fill_mode="constant", fill_value=1.0),
            RandomZoom((-0.2, 0.1), 0.3, interpolation="nearest"), RandomTranslation(0.1, (0.0, 0.2), fill_mode="wrap"),
            RandomContrast(0.2, value_range=(0, 1)), RandomBrightness((-0.1, 0.3), value_range=(0, 1), seed=4),
            RandomCrop(10, 12), Resizing(8, 9, crop_to_aspect_ratio=True, antialias=True), CenterCrop(6, 7),
            Resizing(6, 6, pad_to_aspect_ratio=True, fill_value=0.5, interpolation="nearest")]


def test_every_config_round_trips():
    for layer in every_layer():
        config = layer.get_config()
        assert type(layer).from_config(config).get_config() == config


def test_native_files_keep_every_layer(tmp_path):
    model = Sequential([*every_layer(), Flatten(), Dense(3)])
    model.build((None, 10, 12, 2))
    model.save(tmp_path / "m.clearcnn")
    loaded = load_model(tmp_path / "m.clearcnn")
    assert [layer.get_config() for layer in loaded.layers] == [layer.get_config() for layer in model.layers]
    x = images((2, 10, 12, 2)) / 255
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_keras_writes_clearcnn_reads_and_predicts_the_same(keras, tmp_path):
    L = keras.layers
    model = keras.Sequential([
        keras.Input(shape=(10, 12, 2)), L.RandomFlip("horizontal", seed=1), L.RandomRotation(0.1, fill_mode="constant"),
        L.RandomZoom((-0.2, 0.1), 0.3), L.RandomTranslation(0.1, 0.2, fill_mode="wrap"),
        L.RandomContrast(0.2, value_range=(0, 1)), L.RandomBrightness(0.1, value_range=(0, 1)), L.RandomCrop(10, 12),
        L.Resizing(8, 9, crop_to_aspect_ratio=True), L.CenterCrop(6, 7), L.Conv2D(2, 3), L.Flatten(), L.Dense(3)])
    model.save(tmp_path / "k.keras")
    model.save_weights(tmp_path / "k.weights.h5")  # (Keras 3.15 cannot write these layers to a legacy .h5 file)
    x = images((3, 10, 12, 2)) / 255
    expected = np.asarray(model.predict(x, verbose=0))
    loaded = load_model(tmp_path / "k.keras")
    assert [type(layer).__name__ for layer in loaded.layers][:9] == [type(layer).__name__ for layer in model.layers][:9]
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, atol=1e-5)
    assert loaded.layers[1].factor == (-0.1, 0.1) and loaded.layers[0].seed == 1
    perturbed = [w + 1 for w in loaded.get_weights()]
    loaded.set_weights(perturbed)
    loaded.load_weights(tmp_path / "k.weights.h5")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, atol=1e-5)


def test_clearcnn_writes_keras_reads_and_predicts_the_same(keras, tmp_path):
    layers = [layer for layer in every_layer() if not isinstance(layer, RandomCrop)]  # Keras 3 skips it in inference
    model = Sequential([*layers, Conv2D(2, 3), Flatten(), Dense(3)])
    model.build((None, 10, 12, 2))
    model.save(tmp_path / "c.keras")
    x = images((3, 10, 12, 2)) / 255
    loaded = keras.saving.load_model(tmp_path / "c.keras")
    assert [type(layer).__name__ for layer in loaded.layers] == [type(layer).__name__ for layer in model.layers]
    np.testing.assert_allclose(np.asarray(loaded.predict(x, verbose=0)), model.predict(x, verbose=0), atol=1e-5)
    rotation = loaded.layers[1]
    assert tuple(rotation.factor) == (-0.1, 0.2) and rotation.fill_mode == "constant" and rotation.fill_value == 1.0


# --- arguments -------------------------------------------------------------------------------------------

HOSTILE = ["3", 1.5, -1, 0, float("nan"), float("inf"), True, None, [], [1, 2, 3], (1, 2, 3), {"a": 1}, object(),
           np.array(["a"]), 1 + 2j]
ARGUMENTS = [
    (RandomFlip, {}, ["mode", "seed", "data_format"]),
    (RandomRotation, {"factor": 0.1}, ["factor", "fill_mode", "interpolation", "seed", "fill_value", "data_format"]),
    (RandomZoom, {"height_factor": 0.1}, ["height_factor", "width_factor", "fill_mode", "interpolation", "seed",
                                          "fill_value"]),
    (RandomTranslation, {"height_factor": 0.1, "width_factor": 0.1}, ["height_factor", "width_factor", "fill_mode",
                                                                      "interpolation", "fill_value"]),
    (RandomContrast, {"factor": 0.1}, ["factor", "value_range", "seed"]),
    (RandomBrightness, {"factor": 0.1}, ["factor", "value_range", "seed"]),
    (RandomCrop, {"height": 4, "width": 4}, ["height", "width", "seed"]),
    (Resizing, {"height": 4, "width": 4}, ["height", "width", "interpolation", "crop_to_aspect_ratio",
                                           "pad_to_aspect_ratio", "fill_mode", "fill_value", "antialias"]),
    (CenterCrop, {"height": 4, "width": 4}, ["height", "width", "data_format"]),
]
CASES = [(cls, base, argument) for cls, base, arguments in ARGUMENTS for argument in arguments]


@pytest.mark.parametrize("cls, base, argument", CASES, ids=[f"{c.__name__}-{a}" for c, _, a in CASES])
def test_a_hostile_argument_is_accepted_or_refused_naming_it(cls, base, argument):
    for value in HOSTILE:
        try:
            layer = cls(**{**base, argument: value})
            layer(images((2, 6, 6, 1)), training=True)
        except ClearCNNError as error:
            assert f"`{argument}`" in str(error) and f"{argument}=" in str(error), f"{argument}={value!r}: {error}"
        except Exception as error:  # noqa: BLE001 - the point of the test
            pytest.fail(f"{cls.__name__}({argument}={value!r}) raised {type(error).__name__}: {error}")


REFUSED = [
    (lambda: RandomFlip("diagonal"), "mode"),
    (lambda: RandomRotation(1.5), "factor"),
    (lambda: RandomRotation((2.0, 3.0)), "factor"),
    (lambda: RandomRotation(0.1, fill_mode="mirror"), "fill_mode"),
    (lambda: RandomRotation(0.1, interpolation="bicubic"), "interpolation"),
    (lambda: RandomZoom(-1.0), "height_factor"),
    (lambda: RandomZoom(0.1, (0.1, 1.5)), "width_factor"),
    (lambda: RandomTranslation(1.2, 0.1), "height_factor"),
    (lambda: RandomTranslation(0.1, (0.1, 0.2, 0.3)), "width_factor"),
    (lambda: RandomContrast(-0.1), "factor"),
    (lambda: RandomContrast(0.1, value_range=(255, 0)), "value_range"),
    (lambda: RandomBrightness(0.1, value_range=(1, 1)), "value_range"),
    (lambda: RandomCrop(0, 4), "height"),
    (lambda: Resizing(4, 4, crop_to_aspect_ratio=True, pad_to_aspect_ratio=True), "pad_to_aspect_ratio"),
    (lambda: Resizing(4, 4, fill_mode="reflect"), "fill_mode"),
    (lambda: Resizing(4, 4, interpolation="lanczos3"), "interpolation"),
    (lambda: CenterCrop(4, 4, data_format="channels_first"), "data_format"),
    (lambda: RandomFlip(seed=-1), "seed"),
    (lambda: RandomFlip()(np.zeros((2, 4, 4))), "4 dimensions"),
]


@pytest.mark.parametrize("make, named", REFUSED, ids=[n for _, n in REFUSED])
def test_bad_arguments_are_refused_naming_them(make, named):
    with pytest.raises(ClearCNNError, match=named):
        make()
