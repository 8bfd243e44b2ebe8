"""The `photo` preset (augmentation, conv -> batch norm -> ReLU, global average pooling) and the command line on a
folder of photos: `clearcnn train --data DIR --model photo` trains, reports accuracy and saves, and `clearcnn
predict` answers for a photo of any size. Photos are generated here with Pillow, small, for speed."""
import argparse
import subprocess
import sys

import numpy as np
import pytest

from clearcnn.cli import data as cli_data
from clearcnn.layers import (
    Activation,
    BatchNormalization,
    Conv2D,
    Dense,
    Dropout,
    GlobalAveragePooling2D,
    MaxPooling2D,
    RandomFlip,
    RandomRotation,
    Rescaling,
)
from clearcnn.presets import build_preset

Image = pytest.importorskip("PIL.Image")
COLOURS = {"blue": 2, "green": 1, "red": 0}  # class name: the channel that is bright


def photo(colour, size, rng):
    """A noisy picture, brightest in its colour's channel, of `size` (width, height)."""
    pixels = rng.integers(0, 90, (size[1], size[0], 3))
    pixels[..., COLOURS[colour]] += 150
    return Image.fromarray(pixels.astype(np.uint8), "RGB")


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("work")
    rng = np.random.default_rng(0)
    for colour in COLOURS:
        (folder / "photos" / colour).mkdir(parents=True)
        for i in range(8):
            photo(colour, (int(rng.integers(20, 60)), int(rng.integers(20, 60))), rng).save(
                folder / "photos" / colour / f"{i}.jpg")
    return folder


def clearcnn(cwd, *args):
    return subprocess.run([sys.executable, "-m", "clearcnn", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=600)


def test_the_photo_preset_has_the_layers_in_order():
    model = build_preset("photo", classes=4)
    assert model.input_shape == (None, 128, 128, 3) and model.output_shape == (None, 4)
    kinds = [type(layer) for layer in model.layers]
    stage = [Conv2D, BatchNormalization, Activation]
    assert kinds == [RandomFlip, RandomRotation, Rescaling, *stage, *stage, MaxPooling2D, *stage, MaxPooling2D,
                     *stage, GlobalAveragePooling2D, Dropout, Dense]
    convs = [layer for layer in model.layers if isinstance(layer, Conv2D)]
    assert [(c.filters, c.kernel_size, c.strides, c.padding) for c in convs] == [
        (32, (3, 3), (2, 2), "same"), (64, (3, 3), (1, 1), "same"), (128, (3, 3), (1, 1), "same"),
        (256, (3, 3), (1, 1), "same")]
    assert model.layers[0].mode == "horizontal" and model.layers[1].factor == (-0.1, 0.1)
    assert model.layers[-2].rate == 0.25 and model.layers[-1].activation.get_config() == "softmax"
    assert all(layer.activation.get_config() == "relu" for layer in model.layers if isinstance(layer, Activation))


def test_folders_are_read_at_128_pixels_for_the_photo_preset(photos):
    def arguments(model, size=None):
        return argparse.Namespace(data=str(photos / "photos"), model=model, image_size=size, color_mode="rgb",
                                  batch_size=8, validation_split=0.25, seed=1)

    assert cli_data.load_training_data(arguments("photo")).input_shape == (128, 128, 3)
    assert cli_data.load_training_data(arguments("photo", (24, 20))).input_shape == (24, 20, 3)
    assert cli_data.load_training_data(arguments("seed")).input_shape == (32, 32, 3)


def test_train_with_the_photo_preset_then_predict_a_photo_of_any_size(photos):
    trained = clearcnn(photos, "train", "--data", "photos", "--model", "photo", "--image-size", "16", "--epochs", "3",
                       "--batch-size", "6", "--output", "photo.clearcnn")
    assert trained.returncode == 0, trained.stderr
    out = trained.stdout
    for expected in ("random_flip (RandomFlip)", "batch_normalization", "global_average_pooling2d", "Epoch 3/3",
                     "Saved the model to photo.clearcnn"):
        assert expected in out, out
    assert "Test accuracy: " in out and "validation images" in out, out
    photo("green", (301, 97), np.random.default_rng(3)).save(photos / "big.jpg")
    photo("red", (9, 13), np.random.default_rng(4)).save(photos / "small.png")
    predicted = clearcnn(photos, "predict", "photo.clearcnn", "big.jpg", "small.png", "--top", "3")
    assert predicted.returncode == 0, predicted.stderr
    lines = predicted.stdout.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["big.jpg", "small.png"]
    for line in lines:
        answers = [part.rsplit(" ", 1) for part in line.split(": ", 1)[1].split(", ")]
        assert {name for name, _ in answers} == set(COLOURS)
        assert abs(sum(float(p.rstrip("%")) for _, p in answers) - 100) < 0.5


@pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy:DeprecationWarning")
def test_a_trained_photo_model_goes_to_keras_and_back(tmp_path):
    import os
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras", reason="Keras is not installed")
    from clearcnn.models import load_model
    model = build_preset("photo", (16, 16, 3), 3)
    model.compile("adam", "sparse_categorical_crossentropy")
    x = np.random.default_rng(0).random((6, 16, 16, 3)).astype("float32") * 255
    model.fit(x, np.arange(6) % 3, epochs=1, batch_size=3, verbose=0)  # moving statistics away from 0 and 1
    model.save(tmp_path / "photo.keras")
    in_keras = keras.saving.load_model(tmp_path / "photo.keras")
    np.testing.assert_allclose(np.asarray(in_keras.predict(x, verbose=0)), model.predict(x, verbose=0), atol=1e-5)
    in_keras.save(tmp_path / "back.keras")
    np.testing.assert_allclose(load_model(tmp_path / "back.keras").predict(x, verbose=0), model.predict(x, verbose=0),
                               atol=1e-5)
