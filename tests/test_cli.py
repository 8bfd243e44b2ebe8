"""The command line, run as a user runs it: `python -m clearcnn ...` in a subprocess, in a temporary folder.

Every data file is written here: image folders with Pillow, IDX and CIFAR-10 batches byte for byte in
their publishers' formats. Exit status 0 on success, 2 on a usage error, 1 on any other error with one
line on stderr ("clearcnn: error: ...") and a traceback only with --debug.
"""
import gzip
import os
import pickle
import re
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from clearcnn.models import load_model

Image = pytest.importorskip("PIL.Image")

COLORS = ("blue", "green", "red")  # sorted, as the class names come out
CHANNEL = {"red": 0, "green": 1, "blue": 2}
PREDICTION = re.compile(r"^(?P<path>.+): (?P<ranking>[^:]+)$")
RANKED = re.compile(r"^(?P<name>\S+) (?P<percent>\d+(?:\.\d+)?)%$")


# ---------------------------------------------------------------- helpers

def clearcnn(cwd, *args, timeout=300):
    """Run `python -m clearcnn ARGS` in `cwd`; the CompletedProcess with text stdout and stderr."""
    env = dict(os.environ, COLUMNS="120")
    return subprocess.run([sys.executable, "-m", "clearcnn", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def show(result):
    return f"exit {result.returncode}\n--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}"


def assert_ok(result):
    assert result.returncode == 0, show(result)
    assert "Traceback" not in result.stderr, show(result)


def assert_error(result, *fragments):
    """Exit 1 with exactly one stderr line, "clearcnn: error: ...", holding every fragment."""
    assert result.returncode == 1, show(result)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, show(result)
    assert lines[0].startswith("clearcnn: error: "), show(result)
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
    return lines[0]


def assert_usage_error(result, *fragments):
    """Exit 2 (argparse), a usage line and an error naming what was wrong; no traceback."""
    assert result.returncode == 2, show(result)
    assert "usage: clearcnn" in result.stderr and "error:" in result.stderr, show(result)
    assert "Traceback" not in result.stderr, show(result)
    for fragment in fragments:
        assert fragment in result.stderr, f"{fragment!r} not in {result.stderr!r}"


def parse_predictions(stdout):
    """'PATH: name p%, name p%' lines -> {PATH: [(name, percent), ...]} in the printed order."""
    found = {}
    for line in stdout.strip().splitlines():
        match = PREDICTION.match(line)
        assert match, f"not a prediction line: {line!r}"
        ranking = []
        for item in match["ranking"].split(", "):
            ranked = RANKED.match(item)
            assert ranked, f"not 'name p%': {item!r} in {line!r}"
            ranking.append((ranked["name"], float(ranked["percent"])))
        found[match["path"]] = ranking
    return found


def colour_pixels(colour, size, rng):
    """(height, width, 3) uint8: mostly `colour` (one of red, green, blue) with noise and a darker blob."""
    height, width = size
    pixels = rng.integers(0, 70, size=(height, width, 3)).astype(np.int32)
    pixels[..., CHANNEL[colour]] = rng.integers(170, 256, size=(height, width))
    top, left = rng.integers(0, height // 2), rng.integers(0, width // 2)
    pixels[top:top + height // 4, left:left + width // 4] //= 2  # some structure, still clearly the colour
    return pixels.astype(np.uint8)


def save_image(path, pixels, mode):
    """Save RGB `pixels` as a `mode` ("RGB", "RGBA" or "L") image; the format comes from the extension."""
    image = Image.fromarray(pixels, "RGB")
    if mode == "RGBA":
        alpha = np.full(pixels.shape[:2], 255, dtype=np.uint8)
        alpha[:2] = 128  # partly transparent rows: the loader must still read the colour channels
        image = Image.fromarray(np.dstack([pixels, alpha]), "RGBA")
    elif mode == "L":
        image = image.convert("L")
    formats = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP"}
    image.save(path, format=formats[Path(path).suffix.lower()])
    return path


# (extension, mode, (height, width)): every format, mixed case, different sizes, RGB and RGBA
VARIANTS = [(".png", "RGB", (32, 32)), (".PNG", "RGBA", (30, 40)), (".jpg", "RGB", (48, 48)),
            (".JPG", "RGB", (36, 24)), (".jpeg", "RGB", (64, 40)), (".bmp", "RGB", (20, 32)),
            (".BMP", "RGB", (28, 28)), (".Png", "RGBA", (17, 23))]


def write_colour_folder(root, per_class, seed, grayscale=True):
    """root/{blue,green,red}/ with `per_class` images each (one grayscale per class) and a stray .txt."""
    rng = np.random.default_rng(seed)
    for colour in COLORS:
        folder = root / colour
        folder.mkdir(parents=True)
        for i in range(per_class):
            extension, mode, size = VARIANTS[i % len(VARIANTS)]
            if grayscale and i == len(VARIANTS) - 1:
                extension, mode = ".png", "L"
            save_image(folder / f"{colour}_{i:02d}{extension}", colour_pixels(colour, size, rng), mode)
        (folder / "notes.txt").write_text("not an image: the loader must skip this file\n")
    (root / "README.txt").write_text("three classes of colour patches\n")
    return root


def idx_bytes(array, magic=None):
    """The IDX layout: big-endian magic 0x000008NN (NN = number of dimensions), big-endian sizes, the bytes."""
    magic = 0x00000800 | array.ndim if magic is None else magic
    return struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape) + array.astype(np.uint8).tobytes()


def write_idx_folder(root, train=60, test=20, seed=0, gzip_train=True):
    """MNIST-style files: train-* (gzipped like the official download) and t10k-* (plain)."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True)
    y = np.arange(train + test) % 10
    x = rng.integers(0, 40, size=(train + test, 28, 28))
    for i, label in enumerate(y):  # a bright bar whose row gives away the digit: learnable, like a digit
        x[i, 2 + 2 * label:4 + 2 * label, 4:24] = 250
    files = {"train-images-idx3-ubyte": idx_bytes(x[:train]), "train-labels-idx1-ubyte": idx_bytes(y[:train]),
             "t10k-images-idx3-ubyte": idx_bytes(x[train:]), "t10k-labels-idx1-ubyte": idx_bytes(y[train:])}
    for name, payload in files.items():
        if gzip_train and name.startswith("train"):
            (root / f"{name}.gz").write_bytes(gzip.compress(payload))
        else:
            (root / name).write_bytes(payload)
    return root


def cifar_batch(count, rng, label="training batch"):
    """A dict as in cifar-10-batches-py, written by Python 2: bytes keys, `data` uint8 (N, 3072) channel-major."""
    return {b"batch_label": label.encode(), b"labels": [int(v) for v in rng.integers(0, 10, size=count)],
            b"data": rng.integers(0, 256, size=(count, 3072), dtype=np.uint8),
            b"filenames": [f"img_{i}.png".encode() for i in range(count)]}


def write_cifar_folder(root, per_batch=12, test=20, seed=0):
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True)
    for i in range(1, 6):
        (root / f"data_batch_{i}").write_bytes(pickle.dumps(cifar_batch(per_batch, rng), protocol=2))
    (root / "test_batch").write_bytes(pickle.dumps(cifar_batch(test, rng, "testing batch 1"), protocol=2))
    (root / "batches.meta").write_bytes(pickle.dumps({b"label_names": [b"airplane"] * 10}, protocol=2))
    return root


class MakeDirectory:
    """Unpickling this calls os.mkdir("PWNED"): what a hostile "CIFAR batch" would do with pickle."""

    def __reduce__(self):
        return os.mkdir, ("PWNED",)


# ---------------------------------------------------------------- a model trained on an image folder (S11)

@pytest.fixture(scope="module")
def colours(tmp_path_factory):
    """Train SEED-CNN on generated red/green/blue images once; the tests below share the run."""
    work = tmp_path_factory.mktemp("colours")
    write_colour_folder(work / "photos", per_class=16, seed=1)
    result = clearcnn(work, "train", "--data", "photos", "--model", "seed", "--image-size", "32", "--epochs", "6",
                      "--batch-size", "8", "--seed", "7", "--output", "colours.clearcnn")
    return work, result


def test_train_on_an_image_folder_of_mixed_formats(colours):
    work, result = colours
    assert_ok(result)
    out = result.stdout
    # 48 images found in 3 classes: the .txt files are skipped, the upper-case extensions are not
    assert "Found 48 files belonging to 3 classes." in out, out
    assert "Using 39 files for training." in out and "Using 9 files for validation." in out, out
    assert "(None, 32, 32, 3)" in out and "932,347" in out, out  # the article's network on 32x32x3
    assert "Epoch 6/6" in out and "Epoch 7/" not in out, out
    assert re.search(r"Test accuracy: \d\.\d{4} \(\d/9 validation images\)", out), out
    assert "Saved the model to colours.clearcnn" in out, out
    assert (work / "colours.clearcnn").is_file()


def test_predict_names_the_right_class_for_new_images(colours):
    work, result = colours
    assert_ok(result)
    rng = np.random.default_rng(99)  # new images, never seen in training, in other sizes and formats
    fresh = work / "fresh"
    fresh.mkdir(exist_ok=True)
    expected = {}
    for colour, (extension, mode, size) in zip(COLORS * 2, [(".JPG", "RGB", (90, 120)), (".png", "RGBA", (15, 15)),
                                                              (".bmp", "RGB", (32, 32)), (".jpeg", "RGB", (40, 64)),
                                                              (".PNG", "RGB", (200, 50)), (".BMP", "RGB", (33, 31))]):
        path = save_image(fresh / f"new_{colour}_{len(expected)}{extension}", colour_pixels(colour, size, rng), mode)
        expected[str(path.relative_to(work))] = colour
    predicted = clearcnn(work, "predict", "colours.clearcnn", *expected)
    assert_ok(predicted)
    rankings = parse_predictions(predicted.stdout)
    assert list(rankings) == list(expected)  # one line per image, in the order given
    for path, colour in expected.items():
        ranking = rankings[path]
        assert [name for name, _ in ranking] != [] and {name for name, _ in ranking} == set(COLORS)
        assert ranking[0][0] == colour, f"{path}: {ranking}"
        percents = [p for _, p in ranking]
        assert percents == sorted(percents, reverse=True) and abs(sum(percents) - 100) < 0.5, ranking

    top1 = clearcnn(work, "predict", "colours.clearcnn", next(iter(expected)), "--top", "1")
    assert_ok(top1)
    ((path, ranking),) = parse_predictions(top1.stdout).items()
    assert len(ranking) == 1 and ranking[0][0] == expected[path]


def test_predict_resizes_an_image_of_another_size(colours):
    work, result = colours
    assert_ok(result)
    path = save_image(work / "big_red.jpg", colour_pixels("red", (300, 170), np.random.default_rng(5)), "RGB")
    predicted = clearcnn(work, "predict", "colours.clearcnn", path.name)
    assert_ok(predicted)
    assert parse_predictions(predicted.stdout)["big_red.jpg"][0][0] == "red", predicted.stdout


def test_evaluate_on_an_image_folder_prints_an_accuracy(colours):
    work, result = colours
    assert_ok(result)
    write_colour_folder(work / "holdout", per_class=4, seed=123)
    evaluated = clearcnn(work, "evaluate", "colours.clearcnn", "--data", "holdout")
    assert_ok(evaluated)
    match = re.search(r"Accuracy: (\d\.\d{4}) on 12 samples, loss (\d+\.\d{4})", evaluated.stdout)
    assert match, evaluated.stdout
    assert float(match[1]) >= 11 / 12, evaluated.stdout  # clearly separable colours


def test_evaluate_with_other_class_names_is_one_clear_error(colours):
    work, result = colours
    assert_ok(result)
    other = work / "animals"
    for name in ("cats", "dogs"):
        (other / name).mkdir(parents=True)
        save_image(other / name / "1.png", colour_pixels("red", (32, 32), np.random.default_rng(0)), "RGB")
    assert_error(clearcnn(work, "evaluate", "colours.clearcnn", "--data", "animals"), "class_names", "animals")


def test_summary_of_a_saved_model(colours):
    work, result = colours
    assert_ok(result)
    summary = clearcnn(work, "summary", "colours.clearcnn")
    assert_ok(summary)
    assert "(None, 30, 30, 6)" in summary.stdout and "(None, 3)" in summary.stdout, summary.stdout
    assert "Total params: 932,347" in summary.stdout, summary.stdout


def test_predict_errors_are_one_clear_line(colours):
    work, result = colours
    assert_ok(result)
    corrupt = work / "broken.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n this is not really a png " * 3)
    assert_error(clearcnn(work, "predict", "colours.clearcnn", "broken.png"), "broken.png", "cannot read")
    assert_error(clearcnn(work, "predict", "colours.clearcnn", "absent.jpg"), "absent.jpg", "no such image")
    assert_error(clearcnn(work, "predict", "missing.clearcnn", "broken.png"), "missing.clearcnn", "no such file")
    not_a_model = work / "photos.clearcnn"
    not_a_model.write_bytes(b"PK\x03\x04 truncated")
    assert_error(clearcnn(work, "predict", "photos.clearcnn", "broken.png"), "photos.clearcnn", "corrupt")


def test_grayscale_and_non_square_folder_training(tmp_path):
    write_colour_folder(tmp_path / "small", per_class=3, seed=2, grayscale=False)
    result = clearcnn(tmp_path, "train", "--data", "small", "--color-mode", "grayscale", "--image-size", "24x40",
                      "--epochs", "1", "--validation-split", "0", "--seed", "1")
    assert_ok(result)
    assert "Found 9 files belonging to 3 classes." in result.stdout, result.stdout
    assert "(None, 24, 40, 1)" in result.stdout and "Test accuracy" not in result.stdout, result.stdout
    assert "Saved the model to small.clearcnn" in result.stdout
    # predict converts an RGBA image to the model's single channel
    save_image(tmp_path / "x.png", colour_pixels("green", (10, 10), np.random.default_rng(0)), "RGBA")
    predicted = clearcnn(tmp_path, "predict", "small.clearcnn", "x.png", "--top", "5")
    assert_ok(predicted)
    assert len(parse_predictions(predicted.stdout)["x.png"]) == 3  # --top larger than the class count


# ---------------------------------------------------------------- IDX and CIFAR-10 files (SPEC section 4)

def test_train_and_evaluate_on_idx_files(tmp_path):
    write_idx_folder(tmp_path / "fashion")
    result = clearcnn(tmp_path, "train", "--data", "fashion", "--epochs", "1", "--seed", "3")
    assert_ok(result)
    assert "(None, 28, 28, 1)" in result.stdout and "(None, 10)" in result.stdout, result.stdout
    assert re.search(r"Test accuracy: \d\.\d{4} \(\d+/20 test samples\)", result.stdout), result.stdout
    assert "Saved the model to fashion.clearcnn" in result.stdout
    evaluated = clearcnn(tmp_path, "evaluate", "fashion.clearcnn", "--data", "fashion")
    assert_ok(evaluated)
    assert re.search(r"Accuracy: \d\.\d{4} on 20 samples", evaluated.stdout), evaluated.stdout


@pytest.mark.parametrize("damage, fragments", [
    ("magic", ("t10k-images-idx3-ubyte", "magic number", "0x00000801")),
    ("truncated", ("t10k-images-idx3-ubyte", "truncated")),
    ("count", ("t10k-labels-idx1-ubyte", "19 labels", "20 images")),
    ("gzip", ("train-images-idx3-ubyte.gz", "truncated")),
])
def test_damaged_idx_files_are_one_clear_error(tmp_path, damage, fragments):
    folder = write_idx_folder(tmp_path / "idx")
    test_images, test_labels = folder / "t10k-images-idx3-ubyte", folder / "t10k-labels-idx1-ubyte"
    if damage == "magic":  # a labels header on the images file
        test_images.write_bytes(struct.pack(">I", 0x00000801) + test_images.read_bytes()[4:])
    elif damage == "truncated":
        test_images.write_bytes(test_images.read_bytes()[:-100])
    elif damage == "count":
        test_labels.write_bytes(idx_bytes(np.arange(19) % 10))
    else:
        gz = folder / "train-images-idx3-ubyte.gz"
        gz.write_bytes(gz.read_bytes()[:-30])
    result = clearcnn(tmp_path, "train", "--data", "idx", "--epochs", "1")
    assert_error(result, *fragments)
    assert not (tmp_path / "idx.clearcnn").exists()


def test_train_and_evaluate_on_cifar10_batches(tmp_path):
    write_cifar_folder(tmp_path / "cifar")
    result = clearcnn(tmp_path, "train", "--data", "cifar", "--model", "cifar", "--epochs", "1", "--batch-size", "30",
                      "--learning-rate", "0.01", "--output", "tiny-cifar.clearcnn")
    assert_ok(result)
    # Adam from the given rate down to zero along a cosine, over the run's 2 steps (60 images in batches of 30)
    rate = load_model(str(tmp_path / "tiny-cifar.clearcnn")).optimizer.get_config()["learning_rate"]
    assert rate["class_name"] == "CosineDecay", rate
    assert (rate["config"]["initial_learning_rate"], rate["config"]["decay_steps"]) == (0.01, 2), rate
    assert "(None, 32, 32, 3)" in result.stdout and "(None, 2304)" in result.stdout, result.stdout
    assert re.search(r"Test accuracy: \d\.\d{4} \(\d+/20 test samples\)", result.stdout), result.stdout
    assert "Saved the model to tiny-cifar.clearcnn" in result.stdout and (tmp_path / "tiny-cifar.clearcnn").is_file()
    evaluated = clearcnn(tmp_path, "evaluate", "tiny-cifar.clearcnn", "--data", "cifar")
    assert_ok(evaluated)
    assert "on 20 samples" in evaluated.stdout, evaluated.stdout


def test_cifar_batches_in_their_subfolder_are_found(tmp_path):
    write_cifar_folder(tmp_path / "download" / "cifar-10-batches-py")
    result = clearcnn(tmp_path, "train", "--data", "download", "--epochs", "1", "--validation-split", "0")
    assert_ok(result)
    assert "(None, 32, 32, 3)" in result.stdout and "/20 test samples" in result.stdout, result.stdout


def test_a_cifar_pickle_with_a_foreign_class_is_refused_and_not_run(tmp_path):
    folder = write_cifar_folder(tmp_path / "cifar")
    batch = cifar_batch(12, np.random.default_rng(0))
    batch[b"labels"] = MakeDirectory()
    (folder / "data_batch_3").write_bytes(pickle.dumps(batch, protocol=2))
    result = clearcnn(tmp_path, "train", "--data", "cifar", "--epochs", "1")
    assert_error(result, "data_batch_3", "refusing", "posix.mkdir" if os.name == "posix" else "mkdir")
    assert not (tmp_path / "PWNED").exists()
    assert not (tmp_path / "cifar.clearcnn").exists()


@pytest.mark.parametrize("damage, fragments", [
    ("truncated", ("test_batch", "truncated or corrupt")),
    ("missing", ("data_batch_5",)),
    ("labels", ("data_batch_1", "labels", "0-9")),
])
def test_damaged_cifar_batches_are_one_clear_error(tmp_path, damage, fragments):
    folder = write_cifar_folder(tmp_path / "cifar")
    if damage == "truncated":
        (folder / "test_batch").write_bytes((folder / "test_batch").read_bytes()[:500])
    elif damage == "missing":
        (folder / "data_batch_5").unlink()
    else:
        batch = cifar_batch(12, np.random.default_rng(0))
        batch[b"labels"][0] = 10
        (folder / "data_batch_1").write_bytes(pickle.dumps(batch, protocol=2))
    assert_error(clearcnn(tmp_path, "train", "--data", "cifar", "--epochs", "1"), *fragments)


# ---------------------------------------------------------------- errors of every subcommand

def test_train_data_errors(tmp_path):
    assert_error(clearcnn(tmp_path, "train", "--data", "nowhere"), "--data", "no such file or folder", "nowhere")
    (tmp_path / "file.txt").write_text("hello")
    assert_error(clearcnn(tmp_path, "train", "--data", "file.txt"), "--data", "must be a folder", "file.txt")
    (tmp_path / "empty").mkdir()
    assert_error(clearcnn(tmp_path, "train", "--data", "empty"), "empty", "no sub-folders")
    for name in ("cats", "dogs"):
        (tmp_path / "textonly" / name).mkdir(parents=True)
        (tmp_path / "textonly" / name / "notes.txt").write_text("no images here")
    assert_error(clearcnn(tmp_path, "train", "--data", "textonly"), "textonly", "no images")
    (tmp_path / "half-idx").mkdir()
    (tmp_path / "half-idx" / "train-images-idx3-ubyte").write_bytes(idx_bytes(np.zeros((4, 28, 28))))
    assert_error(clearcnn(tmp_path, "train", "--data", "half-idx"), "half-idx", "labels")
    assert not list(tmp_path.glob("*.clearcnn"))


def test_output_in_a_missing_folder_fails_before_training(tmp_path):
    write_idx_folder(tmp_path / "idx")
    result = clearcnn(tmp_path, "train", "--data", "idx", "--epochs", "1", "--output", "no/such/dir/m.clearcnn")
    assert_error(result, "--output", "no/such/dir/m.clearcnn")
    assert "Epoch" not in result.stdout, result.stdout  # no training thrown away
    output = clearcnn(tmp_path, "train", "--data", "idx", "--epochs", "1", "-o", "idx-model.clearcnn")
    assert_ok(output)
    assert "Saved the model to idx-model.clearcnn" in output.stdout and (tmp_path / "idx-model.clearcnn").is_file()
    assert not (tmp_path / "idx.clearcnn").exists()


@pytest.mark.parametrize("output, fragments", [
    ("a-folder", ["--output", "'a-folder'", "not a folder"]),
    ("m.h5", ["--output", "'m.h5'", ".clearcnn or .keras"]),
    ("m.weights.h5", ["--output", "'m.weights.h5'", ".clearcnn or .keras"]),
    ("file.txt/m.clearcnn", ["--output", "file.txt/m.clearcnn", "existing folder"]),
    ("read-only/m.clearcnn", ["--output", "read-only/m.clearcnn", "can be written to"]),
])
def test_train_refuses_an_output_it_could_not_write_before_the_first_epoch(tmp_path, output, fragments):
    write_idx_folder(tmp_path / "idx")
    (tmp_path / "a-folder").mkdir()
    (tmp_path / "file.txt").write_text("not a folder")
    if output.startswith("read-only"):
        if os.name != "posix":
            pytest.skip("folder permissions are POSIX")
        if os.geteuid() == 0:  # root writes through permissions; /sys refuses even root
            output = "/sys/m.clearcnn"
            fragments = ["--output", output, "can be written to"]
        else:
            (tmp_path / "read-only").mkdir(mode=0o555)
    result = clearcnn(tmp_path, "train", "--data", "idx", "--epochs", "1", "--output", output)
    assert_error(result, *fragments)
    assert "Epoch" not in result.stdout, result.stdout  # nothing trained, nothing lost
    assert not list(tmp_path.glob("**/*.clearcnn")) and not list(tmp_path.glob("**/.clearcnn-check-*"))


def write_tiny_model(folder, conv=True):
    """A saved 8x8 grayscale model (untrained): conv, pooling, flatten, dense; or flatten and dense only."""
    from clearcnn.layers import Conv2D, Dense, Flatten, MaxPooling2D
    from clearcnn.models import Sequential
    layers = [Conv2D(2, 3, input_shape=(8, 8, 1)), MaxPooling2D(), Flatten()] if conv else [
        Flatten(input_shape=(8, 8, 1))]
    Sequential([*layers, Dense(2, activation="softmax")]).save(folder / "m.clearcnn")
    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8), "L").save(folder / "x.png")
    return "m.clearcnn", "x.png"


@pytest.mark.parametrize("args, fragments", [
    (["--layer", "99"], ["`index`", "index=99", "4 layers"]),
    (["--layer", "-9"], ["`index`", "index=-9"]),
    (["--layer", "nosuch"], ["`name`", "name='nosuch'", "conv2d"]),
    (["--layer", "-1", "--row", "1"], ["`row`", "row=1", "dense"]),
    (["--row", "-1"], ["`row`", "row=-1"]),
    (["--filter", "7"], ["filter_index=7"]),
])
def test_explain_refuses_a_layer_or_cell_that_does_not_exist(tmp_path, args, fragments):
    model, image = write_tiny_model(tmp_path)
    assert_error(clearcnn(tmp_path, "explain", model, "--image", image, *args), *fragments)
    assert_ok(clearcnn(tmp_path, "explain", model, "--image", image, "--layer", "1"))  # the pooling layer by index


def test_explain_of_a_model_without_conv_layers_asks_for_a_layer(tmp_path):
    model, image = write_tiny_model(tmp_path, conv=False)
    assert_error(clearcnn(tmp_path, "explain", model, "--image", image), "no Conv2D layer", "--layer")


@pytest.mark.parametrize("command, fragments", [
    (["show", "kernels", "m.clearcnn", "-o", "kernels.xyz"], ["show kernels", "--output", "kernels.xyz", ".png"]),
    (["show", "kernels", "m.clearcnn", "-o", "a-folder"], ["--output", "not a folder"]),
    (["show", "kernels", "m.clearcnn", "-o", "gone/k.png"], ["--output", "existing folder"]),
    (["report", "m.clearcnn", "-o", "a-folder"], ["report", "--output", "not a folder"]),
    (["report", "m.clearcnn", "-o", "gone/r.html"], ["report", "--output", "existing folder"]),
])
def test_commands_that_write_check_the_output_first(tmp_path, command, fragments):
    pytest.importorskip("matplotlib")
    write_tiny_model(tmp_path)
    (tmp_path / "a-folder").mkdir()
    assert_error(clearcnn(tmp_path, *command), *fragments)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-folder", "m.clearcnn", "x.png"]


def test_shapes_of_a_network_too_large_to_allocate(tmp_path):
    result = clearcnn(tmp_path, "shapes", "100000x100000x3 | conv 10 3 | flatten | dense 10", timeout=60)
    assert_ok(result)
    assert "output 99998x99998x10, 280 parameters" in result.stdout, result.stdout
    assert f"output 10, {99998 * 99998 * 100 + 10:,} parameters" in result.stdout, result.stdout
    assert_error(clearcnn(tmp_path, "shapes", "0x32x3 | flatten"), "input size", "'0x32x3'")


def test_corrupt_image_in_a_training_folder_names_the_file(tmp_path):
    write_colour_folder(tmp_path / "photos", per_class=3, seed=4, grayscale=False)
    (tmp_path / "photos" / "green" / "damaged.PNG").write_bytes(b"\x00\x01 definitely not an image" * 10)
    result = clearcnn(tmp_path, "train", "--data", "photos", "--epochs", "1", "--validation-split", "0")
    assert_error(result, os.path.join("photos", "green", "damaged.PNG"), "cannot read")
    assert not (tmp_path / "photos.clearcnn").exists()


def test_missing_model_file(tmp_path):
    for command in (["evaluate", "gone.clearcnn"], ["predict", "gone.clearcnn", "a.png"], ["summary", "gone.clearcnn"]):
        assert_error(clearcnn(tmp_path, *command), "gone.clearcnn")


@pytest.mark.parametrize("args, fragments", [
    (["fly"], ["invalid choice", "fly"]),
    ([], ["required", "COMMAND"]),
    (["train", "--epochs", "0"], ["--epochs", "positive integer", "'0'"]),
    (["train", "--epochs", "-3"], ["--epochs"]),
    (["train", "--epochs", "two"], ["--epochs"]),
    (["train", "--batch-size", "0"], ["--batch-size"]),
    (["train", "--image-size", "0"], ["--image-size", "'0'"]),
    (["train", "--image-size", "abc"], ["--image-size", "'abc'"]),
    (["train", "--image-size", "32x"], ["--image-size"]),
    (["train", "--image-size", "3x4x5"], ["--image-size", "'3x4x5'"]),
    (["train", "--model", "resnet"], ["--model", "resnet"]),
    (["train", "--color-mode", "cmyk"], ["--color-mode", "cmyk"]),
    (["train", "--validation-split", "1.5"], ["--validation-split", "1.5"]),
    (["train", "--validation-split", "half"], ["--validation-split", "half"]),
    (["train", "--learning-rate", "0"], ["--learning-rate", "positive number", "'0'"]),
    (["train", "--learning-rate", "-0.1"], ["--learning-rate"]),
    (["train", "--learning-rate", "nan"], ["--learning-rate", "'nan'"]),
    (["train", "--learning-rate", "inf"], ["--learning-rate", "'inf'"]),
    (["train", "--learning-rate", "fast"], ["--learning-rate", "'fast'"]),
    (["predict", "model.clearcnn"], ["IMAGE"]),
    (["predict", "m.clearcnn", "a.png", "--top", "0"], ["--top"]),
    (["evaluate"], ["model"]),
    (["summary", "seed", "--image-size", "x"], ["--image-size"]),
    (["summary", "seed", "--classes", "0"], ["--classes"]),
    (["train", "--seed", "-1"], ["--seed", "non-negative", "'-1'"]),
    (["report", "m.clearcnn", "--samples", "-5"], ["--samples", "positive integer", "'-5'"]),
    (["report", "m.clearcnn", "--samples", "0"], ["--samples"]),
])
def test_usage_errors_exit_2(tmp_path, args, fragments):
    if args[:1] == ["train"]:  # were the arguments accepted, this fails fast instead of training on MNIST
        args = [*args, "--data", "nowhere"]
    assert_usage_error(clearcnn(tmp_path, *args, timeout=60), *fragments)
    assert not list(tmp_path.iterdir())  # nothing was trained or saved


def test_debug_shows_a_traceback_and_normal_mode_one_line(tmp_path):
    normal = clearcnn(tmp_path, "evaluate", "gone.clearcnn")
    line = assert_error(normal, "load_model", "gone.clearcnn")
    assert "Traceback" not in normal.stderr
    for debug_args in (["--debug", "evaluate", "gone.clearcnn"], ["evaluate", "gone.clearcnn", "--debug"]):
        debug = clearcnn(tmp_path, *debug_args)
        assert debug.returncode == 1, show(debug)
        assert "Traceback (most recent call last):" in debug.stderr, show(debug)
        assert "ClearCNNError" in debug.stderr and "native.py" in debug.stderr, show(debug)
        assert debug.stderr.strip().splitlines()[-1] == line  # the same clear line ends the traceback


# ---------------------------------------------------------------- summary and help

def test_summary_seed_prints_the_corrected_article_network(tmp_path):
    result = clearcnn(tmp_path, "summary", "seed")
    assert_ok(result)
    out = result.stdout
    for shape in ("(None, 30, 30, 6)", "(None, 28, 28, 6)", "(None, 24, 24, 16)", "(None, 22, 22, 16)",
                  "(None, 7744)", "(None, 120)", "(None, 3)"):
        assert shape in out, shape
    for count in ("168", "2,416", "929,400", "363"):
        assert re.search(rf"\s{count}\s", out), count
    assert "Total params: 932,347" in out and "Trainable params: 932,347" in out, out
    assert "Layer (type)" in out and "Output Shape" in out and "Param #" in out
    assert not list(tmp_path.iterdir())


def test_summary_default_and_cifar_presets(tmp_path):
    default = clearcnn(tmp_path, "summary", "default")
    assert_ok(default)
    assert "(None, 28, 28, 1)" in default.stdout and "(None, 10)" in default.stdout, default.stdout
    assert "Total params: 225,546" in default.stdout, default.stdout
    cifar = clearcnn(tmp_path, "summary", "cifar")
    assert_ok(cifar)
    assert "(None, 2304)" in cifar.stdout and "(None, 10)" in cifar.stdout, cifar.stdout
    assert "Total params: 1,250,858" in cifar.stdout, cifar.stdout
    resized = clearcnn(tmp_path, "summary", "seed", "--image-size", "64x48", "--classes", "5")
    assert_ok(resized)
    assert "(None, 64, 48, 3)" in resized.stdout and "(None, 5)" in resized.stdout, resized.stdout
    assert_error(clearcnn(tmp_path, "summary", "resnet"), "resnet", "default, seed, cifar")


def test_help(tmp_path):
    result = clearcnn(tmp_path, "--help")
    assert_ok(result)
    for word in ("usage: clearcnn", "train", "evaluate", "predict", "summary", "--debug", "examples:"):
        assert word in result.stdout, word
    train_help = clearcnn(tmp_path, "train", "--help")
    assert_ok(train_help)
    for option in ("--data", "--model", "--image-size", "--color-mode", "--epochs", "--batch-size",
                   "--validation-split", "--output", "--seed"):
        assert option in train_help.stdout, option
    script = Path(sys.executable).with_name("clearcnn")
    if script.exists():  # the console script installed with the package
        installed = subprocess.run([str(script), "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert installed.returncode == 0 and "usage: clearcnn" in installed.stdout


# ---------------------------------------------------------------- the embedded digits, end to end

def test_train_on_the_embedded_digits_then_evaluate_and_predict(tmp_path):
    """`clearcnn train` with no --data, kept to one epoch: summary, test accuracy, a saved model that loads."""
    result = clearcnn(tmp_path, "train", "--epochs", "1", "--batch-size", "64", timeout=600)
    assert_ok(result)
    out = result.stdout
    assert "Total params: 225,546" in out and "(None, 28, 28, 1)" in out, out
    assert "Epoch 1/1" in out and "Epoch 2/" not in out, out
    assert re.search(r"^Engine: backend (fast, compiled kernels (on|off)|reference)", out, re.M), out
    accuracy = re.search(r"Test accuracy: (\d\.\d{4}) \((\d+)/2000 held-out digits\)", out)
    assert accuracy, out
    assert float(accuracy[1]) > 0.8, out  # one epoch on 8,000 real digits
    saved = re.search(r"Saved the model to (\S+)", out)
    assert saved and (tmp_path / saved[1]).is_file(), out

    evaluated = clearcnn(tmp_path, "evaluate", saved[1])
    assert_ok(evaluated)
    again = re.search(r"Accuracy: (\d\.\d{4}) on 2000 samples", evaluated.stdout)
    assert again and again[1] == accuracy[1], evaluated.stdout  # the same model on the same digits

    from clearcnn.datasets import load_mnist10k
    _, (x_test, y_test) = load_mnist10k()
    paths = []
    for i in range(6):
        paths.append(f"digit_{i}.png")
        Image.fromarray(x_test[i], "L").save(tmp_path / paths[-1])
    predicted = clearcnn(tmp_path, "predict", saved[1], *paths)
    assert_ok(predicted)
    rankings = parse_predictions(predicted.stdout)
    right = sum(rankings[path][0][0] == str(y_test[i]) for i, path in enumerate(paths))
    assert right >= 5, (predicted.stdout, y_test[:6])
