"""clearcnn.datasets: every file format is written here by hand, byte for byte as its publishers write it."""
import gzip
import hashlib
import io
import os
import pickle
import pickletools
import struct
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from clearcnn.datasets import ImageDataset, image_dataset_from_directory, load_cifar10, load_idx, load_image_folder, load_mnist10k
from clearcnn.errors import ClearCNNError

Image = pytest.importorskip("PIL.Image")


# ---------------------------------------------------------------- embedded MNIST-10k

def test_mnist10k_shapes_dtypes_counts_and_labels():
    (x_train, y_train), (x_test, y_test) = load_mnist10k()
    assert x_train.shape == (8000, 28, 28) and x_test.shape == (2000, 28, 28)
    assert y_train.shape == (8000,) and y_test.shape == (2000,)
    for array in (x_train, y_train, x_test, y_test):
        assert array.dtype == np.uint8
    assert x_train.min() == 0 and x_train.max() == 255
    assert set(np.unique(y_train)) == set(range(10)) and set(np.unique(y_test)) == set(range(10))
    # real digits: mostly black background, a stroke of a few dozen to a few hundred bright pixels
    assert 0.05 < (x_train > 127).mean() < 0.3


MNIST10K_SHA256 = {  # of each array's bytes in C order, as first shipped
    "x_train": "3f68c04ff1cbd8a696d44c9b496f7d040c8c1857d080423659bdd0802a559146",
    "y_train": "3821abe4a2ef805b9f011d2c6c0f275723c81729c75884b4c28fd9ae74fffe1a",
    "x_test": "2e5ad0104d52bf5d73278ff74c19deb5b7408e9a2f7cb39e21bdf72f76ac550a",
    "y_test": "36ca7bfb45c20279c25e6dde4eaf50f251da32c90cb38dce216b9a0891ffe716",
}


def test_mnist10k_is_the_file_first_shipped_unchanged():
    (x_train, y_train), (x_test, y_test) = load_mnist10k()
    arrays = dict(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    digests = {name: hashlib.sha256(array.tobytes()).hexdigest() for name, array in arrays.items()}
    assert digests == MNIST10K_SHA256  # with the shapes, dtypes and labels checked above: the same arrays


def test_mnist10k_ships_with_its_credit():
    text = (resources.files("clearcnn") / "data" / "README.md").read_text(encoding="utf-8")
    for credit in ("mnist", "1.1.0", "Juan Cazala", "MIT", "LeCun", "Cortes", "Burges", "CC BY-SA 3.0"):
        assert credit in text


# ---------------------------------------------------------------- IDX files

def idx_bytes(magic, array):
    """The IDX layout of yann.lecun.com/exdb/mnist: big-endian magic, big-endian sizes, then the bytes."""
    return struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape) + array.astype(np.uint8).tobytes()


def write(path, payload, gz=False):
    path.write_bytes(gzip.compress(payload) if gz else payload)
    return path


@pytest.fixture
def digits():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (5, 4, 3), dtype=np.uint8), np.array([3, 1, 4, 1, 5], dtype=np.uint8)


@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip(tmp_path, digits, gz):
    x, y = digits
    # gzip is recognised by its magic bytes, so the names here say nothing about compression
    images = write(tmp_path / "train-images-idx3-ubyte", idx_bytes(2051, x), gz)
    labels = write(tmp_path / "train-labels-idx1-ubyte.gz", idx_bytes(2049, y), gz)
    x_read, y_read = load_idx(images, str(labels))
    assert x_read.dtype == np.uint8 and y_read.dtype == np.uint8
    np.testing.assert_array_equal(x_read, x)
    np.testing.assert_array_equal(y_read, y)
    assert x_read.flags.writeable


def test_idx_header_is_read_big_endian(tmp_path):
    payload = bytes.fromhex("00000803" "00000001" "00000002" "00000003") + bytes(range(6))
    labels = write(tmp_path / "l", bytes.fromhex("00000801" "00000001") + b"\x07")
    x, y = load_idx(write(tmp_path / "i", payload), labels)
    np.testing.assert_array_equal(x, [[[0, 1, 2], [3, 4, 5]]])
    assert y.tolist() == [7]


def test_idx_bad_magic_names_file_and_numbers(tmp_path, digits):
    x, y = digits
    labels = write(tmp_path / "labels", idx_bytes(2049, y))
    with pytest.raises(ClearCNNError, match=r"labels.*0x00000801.*expected 0x00000803.*pass it as `labels`"):
        load_idx(labels, labels)
    junk = write(tmp_path / "junk.bin", b"GIF89a not an idx file")
    with pytest.raises(ClearCNNError, match=r"junk\.bin.*0x47494638.*0x00000803"):
        load_idx(junk, labels)


@pytest.mark.parametrize("gz", [False, True])
def test_idx_truncated_file(tmp_path, digits, gz):
    x, y = digits
    images = write(tmp_path / "images", idx_bytes(2051, x)[:-7], gz)
    labels = write(tmp_path / "labels", idx_bytes(2049, y))
    with pytest.raises(ClearCNNError, match=r"'.*images'.*\(5, 4, 3\).*60 bytes.*holds 53 bytes.*truncated"):
        load_idx(images, labels)


def test_idx_truncated_header_and_extra_bytes(tmp_path, digits):
    x, y = digits
    labels = write(tmp_path / "labels", idx_bytes(2049, y))
    with pytest.raises(ClearCNNError, match="ends inside its header"):
        load_idx(write(tmp_path / "short", idx_bytes(2051, x)[:10]), labels)
    with pytest.raises(ClearCNNError, match="more bytes than that"):
        load_idx(write(tmp_path / "long", idx_bytes(2051, x) + b"\0"), labels)


def test_idx_damaged_gzip_stream(tmp_path, digits):
    x, y = digits
    labels = write(tmp_path / "labels", idx_bytes(2049, y))
    cut = gzip.compress(idx_bytes(2051, x))[:-12]
    with pytest.raises(ClearCNNError, match="images.*cannot be decompressed"):
        load_idx(write(tmp_path / "images.gz", cut), labels)


def test_idx_label_count_mismatch(tmp_path, digits):
    x, y = digits
    images = write(tmp_path / "t10k-images", idx_bytes(2051, x))
    labels = write(tmp_path / "train-labels", idx_bytes(2049, y[:4]))
    with pytest.raises(ClearCNNError, match=r"train-labels.*4 labels.*t10k-images.*5 images"):
        load_idx(images, labels)


def test_idx_missing_file(tmp_path):
    with pytest.raises(ClearCNNError, match=r"`images`.*nowhere"):
        load_idx(tmp_path / "nowhere", tmp_path / "labels")


# ---------------------------------------------------------------- CIFAR-10 batches

def write_batch(path, data, labels, protocol=2, str_keys=False):
    """A batch as the CIFAR-10 python version holds it: a pickled dict of bytes keys, protocol 2."""
    batch = {b"batch_label": path.name.encode(), b"labels": [int(v) for v in labels], b"data": data,
             b"filenames": [f"img_{i}.png".encode() for i in range(len(data))]}
    if str_keys:
        batch = {key.decode(): value for key, value in batch.items()}
    with open(path, "wb") as file:
        pickle.dump(batch, file, protocol=protocol)


def make_cifar(folder, per_batch=2, test=3, **options):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    batches = {}
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        count = test if name == "test_batch" else per_batch
        data = rng.integers(0, 256, (count, 3072), dtype=np.uint8)
        labels = (np.arange(count) + i) % 10
        write_batch(folder / name, data, labels, **options)
        batches[name] = (data, labels)
    return batches


def test_cifar_round_trip_channel_major_to_hwc(tmp_path):
    batches = make_cifar(tmp_path)
    data = batches["data_batch_2"][0]
    data[1, 1024 + 5 * 32 + 7] = 201  # image 1, green channel, row 5, column 7
    write_batch(tmp_path / "data_batch_2", data, batches["data_batch_2"][1])
    (x_train, y_train), (x_test, y_test) = load_cifar10(tmp_path)
    assert x_train.shape == (10, 32, 32, 3) and x_test.shape == (3, 32, 32, 3)
    assert y_train.shape == (10, 1) and y_test.shape == (3, 1)  # as keras.datasets.cifar10.load_data()
    assert {a.dtype for a in (x_train, y_train, x_test, y_test)} == {np.dtype(np.uint8)}
    assert x_train[3, 5, 7, 1] == 201  # batch 2 comes after batch 1's two images
    for n, row, col, channel in [(0, 0, 0, 0), (0, 31, 31, 2), (3, 12, 30, 0), (9, 1, 2, 1)]:
        batch, index = f"data_batch_{n // 2 + 1}", n % 2
        assert x_train[n, row, col, channel] == batches[batch][0][index, channel * 1024 + row * 32 + col]
    assert x_test[2, 31, 0, 2] == batches["test_batch"][0][2, 2048 + 31 * 32]
    assert y_train.ravel().tolist() == [0, 1, 1, 2, 2, 3, 3, 4, 4, 5] and y_test.ravel().tolist() == [5, 6, 7]
    assert x_train.flags.c_contiguous


@pytest.mark.parametrize("protocol, str_keys", [(4, True), (5, False)])
def test_cifar_other_pickle_protocols_and_str_keys(tmp_path, protocol, str_keys):
    batches = make_cifar(tmp_path / "cifar-10-batches-py", protocol=protocol, str_keys=str_keys)
    (x_train, _), (x_test, y_test) = load_cifar10(tmp_path)  # the parent of cifar-10-batches-py/ works too
    assert x_test[0, 0, 1, 2] == batches["test_batch"][0][0, 2048 + 1]
    assert y_test.ravel().tolist() == batches["test_batch"][1].tolist()


class Payload:
    """What a hostile batch could hold: unpickling it calls os.system."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class Custom:
    pass


@pytest.mark.parametrize("hostile, refused", [("system", r"(posix|nt)\.system"), ("custom", r"test_datasets\.Custom")])
def test_cifar_foreign_class_is_refused_and_never_run(tmp_path, hostile, refused):
    make_cifar(tmp_path)
    marker = tmp_path / "was-run"
    item = Payload(marker) if hostile == "system" else Custom()
    blob = pickle.dumps({b"data": item, b"labels": [0]}, protocol=2)
    names = " ".join(str(arg) for op, arg, _ in pickletools.genops(blob) if op.name == "GLOBAL")
    assert ("system" if hostile == "system" else "Custom") in names  # the file really names the class
    (tmp_path / "data_batch_3").write_bytes(blob)
    with pytest.raises(ClearCNNError, match=rf"refusing to load class {refused} from '.*data_batch_3'"):
        load_cifar10(tmp_path)
    assert not marker.exists()


def test_cifar_missing_batches_wrong_size_and_damage(tmp_path):
    with pytest.raises(ClearCNNError, match="not a folder"):
        load_cifar10(tmp_path / "absent")
    make_cifar(tmp_path)
    (tmp_path / "data_batch_4").unlink()
    (tmp_path / "test_batch").unlink()
    with pytest.raises(ClearCNNError, match=r"lacks data_batch_4, test_batch"):
        load_cifar10(tmp_path)
    make_cifar(tmp_path)
    write_batch(tmp_path / "data_batch_5", np.zeros((2, 3000), np.uint8), [0, 1])
    with pytest.raises(ClearCNNError, match=r"data_batch_5.*shape \(2, 3000\).*\(N, 3072\)"):
        load_cifar10(tmp_path)
    make_cifar(tmp_path)
    write_batch(tmp_path / "data_batch_5", np.zeros((2, 3072), np.uint8), [0, 1, 2])
    with pytest.raises(ClearCNNError, match=r"data_batch_5.*2 integers 0-9"):
        load_cifar10(tmp_path)
    make_cifar(tmp_path)
    path = tmp_path / "test_batch"
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(ClearCNNError, match="test_batch.*truncated or corrupt"):
        load_cifar10(tmp_path)


# ---------------------------------------------------------------- image folders

COLOURS = {"apple": (200, 30, 30), "banana": (30, 200, 30), "cherry": (90, 90, 90)}
GREY = {"apple": 81, "banana": 130, "cherry": 90}  # ITU-R 601 luma: 0.299 R + 0.587 G + 0.114 B
FILES = {  # name: (class, Pillow mode, (width, height), format)
    "apple/a1.png": ("apple", "RGB", (20, 30), "PNG"),
    "apple/a2.PNG": ("apple", "RGBA", (40, 40), "PNG"),
    "apple/deeper/a3.bmp": ("apple", "RGB", (9, 13), "BMP"),
    "banana/b1.jpg": ("banana", "RGB", (50, 30), "JPEG"),
    "banana/b2.JPG": ("banana", "RGB", (16, 16), "JPEG"),
    "banana/b3.gif": ("banana", "P", (12, 7), "GIF"),
    "cherry/c1.bmp": ("cherry", "RGB", (8, 8), "BMP"),
    "cherry/c2.jpeg": ("cherry", "L", (31, 17), "JPEG"),
}
NOT_IMAGES = ["apple/notes.txt", "banana/b4.jpg.txt", "top.png", ".hidden/h.png"]


def solid(mode, size, colour):
    if mode == "L":
        return Image.new("L", size, colour[0])
    image = Image.new("RGBA" if mode == "RGBA" else "RGB", size, colour)
    return image.quantize(8) if mode == "P" else image


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "fruit"
    for name, (label, mode, size, kind) in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        solid(mode, size, COLOURS[label]).save(root / name, format=kind, quality=95)
    for name in NOT_IMAGES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"not read")
    return root


def collect(dataset):
    xs, ys = zip(*dataset)
    return np.concatenate(xs), np.concatenate(ys)


def test_folder_counts_classes_shapes_and_labels(folder, capsys):
    ds = image_dataset_from_directory(folder, image_size=(6, 5), batch_size=3, shuffle=False)
    assert capsys.readouterr().out == "Found 8 files belonging to 3 classes.\n"
    assert isinstance(ds, ImageDataset)
    assert ds.class_names == ["apple", "banana", "cherry"]
    assert [os.path.relpath(p, folder) for p in ds.file_paths] == [os.path.normpath(n) for n in FILES]
    assert len(ds) == ds.cardinality() == 3
    batches = list(ds)
    assert [x.shape for x, _ in batches] == [(3, 6, 5, 3), (3, 6, 5, 3), (2, 6, 5, 3)]
    assert all(x.dtype == np.float32 and y.dtype == np.int32 for x, y in batches)
    x, y = collect(batches)
    assert y.tolist() == [0, 0, 0, 1, 1, 1, 2, 2]
    for image, label in zip(x, y):
        np.testing.assert_allclose(image, np.broadcast_to(COLOURS[ds.class_names[label]], image.shape), atol=3)


def test_folder_label_modes(folder):
    x, y = collect(image_dataset_from_directory(folder, label_mode="categorical", image_size=(4, 4),
                                                seed=3, verbose=False))
    assert y.dtype == np.float32 and y.shape == (8, 3) and (y.sum(axis=1) == 1).all()
    for image, one_hot in zip(x, y):
        np.testing.assert_allclose(image[0, 0], COLOURS[["apple", "banana", "cherry"][one_hot.argmax()]], atol=3)
    binary = image_dataset_from_directory(folder, label_mode="binary", class_names=["cherry", "apple"],
                                          image_size=(4, 4), verbose=False)
    assert binary.file_paths and all(Path(p).relative_to(folder).parts[0] != "banana" for p in binary.file_paths)
    x, y = collect(binary)
    assert y.dtype == np.float32 and y.shape == (5, 1)
    for image, label in zip(x, y[:, 0]):  # class 0 is cherry now: the order given wins
        np.testing.assert_allclose(image[0, 0], COLOURS["apple" if label == 1 else "cherry"], atol=3)
    # without labels, as in Keras, every image file under the folder counts, class sub-folder or not
    unlabelled = image_dataset_from_directory(folder, label_mode=None, image_size=(4, 4), batch_size=5,
                                              shuffle=False, verbose=False)
    relative = [os.path.relpath(p, folder) for p in unlabelled.file_paths]
    assert relative == ["top.png", os.path.join(".hidden", "h.png")] + [os.path.normpath(n) for n in FILES]
    (folder / "top.png").unlink()
    (folder / ".hidden" / "h.png").unlink()
    unlabelled = list(image_dataset_from_directory(folder, labels=None, image_size=(4, 4), batch_size=5,
                                                   verbose=False))
    assert [batch.shape for batch in unlabelled] == [(5, 4, 4, 3), (3, 4, 4, 3)]


def test_folder_color_modes(folder):
    x, y = collect(image_dataset_from_directory(folder, color_mode="grayscale", image_size=(5, 5),
                                                shuffle=False, verbose=False))
    assert x.shape == (8, 5, 5, 1)
    for image, label in zip(x, y):
        np.testing.assert_allclose(image, GREY[["apple", "banana", "cherry"][label]], atol=3)
    x, _ = collect(image_dataset_from_directory(folder, color_mode="rgba", image_size=(5, 5), verbose=False))
    assert x.shape == (8, 5, 5, 4) and (x[..., 3] == 255).all()


def test_single_images_when_batch_size_is_none(folder):
    items = list(image_dataset_from_directory(folder, batch_size=None, image_size=(3, 4), shuffle=False,
                                              verbose=False))
    assert len(items) == 8 and items[0][0].shape == (3, 4, 3) and items[-1][1] == 2


def test_explicit_labels_follow_sorted_walk_order(folder):
    (folder / "top.png").unlink()
    (folder / ".hidden" / "h.png").unlink()
    given = [1, 0, 1, 1, 0, 0, 1, 0]
    ds = image_dataset_from_directory(folder, labels=np.array(given), image_size=(3, 3), shuffle=False,
                                      verbose=False)
    assert ds.class_names == ["0", "1"] and ds.labels.tolist() == given
    assert collect(ds)[1].tolist() == given


def test_validation_split_disjoint_covering_and_in_keras_order(folder, capsys):
    options = dict(validation_split=0.25, seed=7, image_size=(4, 4), batch_size=2)
    train = image_dataset_from_directory(folder, subset="training", **options)
    assert capsys.readouterr().out == "Found 8 files belonging to 3 classes.\nUsing 6 files for training.\n"
    val = image_dataset_from_directory(folder, subset="validation", **options)
    assert capsys.readouterr().out.endswith("Using 2 files for validation.\n")
    assert len(train.file_paths) == 6 and len(val.file_paths) == 2
    assert set(train.file_paths).isdisjoint(val.file_paths)
    assert sorted(train.file_paths + val.file_paths) == sorted(str(folder / n) for n in FILES)
    expected = [str(folder / n) for n in FILES]  # Keras shuffles the sorted paths with RandomState(seed)
    np.random.RandomState(7).shuffle(expected)
    assert train.file_paths + val.file_paths == expected
    both = image_dataset_from_directory(folder, subset="both", **options)
    assert [d.file_paths for d in both] == [train.file_paths, val.file_paths]
    for dataset in (train, val):  # labels follow their files through the shuffle
        for x, y in dataset:
            for image, label in zip(x, y):
                np.testing.assert_allclose(image[1, 1], COLOURS[dataset.class_names[label]], atol=3)


def test_reshuffles_each_epoch_and_reads_lazily(folder, monkeypatch):
    ds = image_dataset_from_directory(folder, batch_size=1, image_size=(2, 2), seed=5, verbose=False)
    first, second = ([float(x.sum()) for x, _ in ds] for _ in range(2))
    assert first != second and sorted(first) == sorted(second)
    from clearcnn.datasets import images
    seen = []
    real = images.read_images
    monkeypatch.setattr(images, "read_images", lambda paths, *a, **k: seen.append(len(paths)) or real(paths, *a, **k))
    ds = image_dataset_from_directory(folder, batch_size=3, image_size=(2, 2), shuffle=False, verbose=False)
    assert seen == []
    for _ in ds:
        pass
    assert seen == [3, 3, 2]


def test_crop_to_aspect_ratio_keeps_the_centre(tmp_path):
    image = Image.new("RGB", (20, 10), (0, 0, 255))
    image.paste((255, 0, 0), (5, 0, 15, 10))  # a red 10 x 10 square in the middle, blue at the sides
    (tmp_path / "only").mkdir()
    image.save(tmp_path / "only" / "wide.png")
    cropped = next(iter(image_dataset_from_directory(tmp_path, image_size=(4, 4), crop_to_aspect_ratio=True,
                                                     verbose=False)))[0]
    np.testing.assert_array_equal(cropped[0], np.broadcast_to([255, 0, 0], (4, 4, 3)))
    stretched = next(iter(image_dataset_from_directory(tmp_path, image_size=(4, 4), verbose=False)))[0]
    assert stretched[0, 0, 0, 2] > 200  # without cropping the blue border stays in


def test_load_image_folder_in_memory(folder, capsys):
    x, y, class_names = load_image_folder(folder, image_size=(7, 6))
    assert capsys.readouterr() == ("Found 8 files belonging to 3 classes.\n", "")  # stderr is no terminal here
    assert x.shape == (8, 7, 6, 3) and x.dtype == np.float32 and y.dtype == np.int32
    assert y.tolist() == [0, 0, 0, 1, 1, 1, 2, 2] and class_names == ["apple", "banana", "cherry"]
    np.testing.assert_allclose(x[5], np.broadcast_to(COLOURS["banana"], (7, 6, 3)), atol=3)
    assert load_image_folder(folder, color_mode="grayscale", verbose=False)[0].shape == (8, 32, 32, 1)


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_only_on_a_terminal_and_when_verbose(folder, monkeypatch):
    monkeypatch.setattr(sys, "stderr", Terminal())
    load_image_folder(folder, image_size=(2, 2))
    assert "Reading images: 8/8\n" in sys.stderr.getvalue()
    for quiet in (dict(verbose=False), dict(progress=False)):
        monkeypatch.setattr(sys, "stderr", Terminal())
        load_image_folder(folder, image_size=(2, 2), **quiet)
        assert sys.stderr.getvalue() == ""


def test_folder_errors(folder, tmp_path):
    with pytest.raises(ClearCNNError, match=r"`directory`.*existing folder.*received directory='.*missing'"):
        image_dataset_from_directory(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ClearCNNError, match="no sub-folders"):
        image_dataset_from_directory(tmp_path / "empty")
    (tmp_path / "empty" / "cats").mkdir()
    (tmp_path / "empty" / "cats" / "notes.txt").write_text("no image here")
    with pytest.raises(ClearCNNError, match="an image folder with no images: its sub-folders cats hold none"):
        load_image_folder(tmp_path / "empty")
    bad = [("color_mode", "rgbx", "rgb"), ("label_mode", "sparse", "categorical"), ("interpolation", "cubic", "bicubic"),
           ("image_size", (0, 4), "pair of positive"), ("batch_size", 0, "positive integer")]
    for argument, value, works in bad:
        with pytest.raises(ClearCNNError, match=rf"`{argument}` must be .*{works}.*received {argument}="):
            image_dataset_from_directory(folder, **{argument: value})
    split_errors = [(dict(validation_split=1.5, subset="training", seed=1), "validation_split.*between 0 and 1"),
                    (dict(subset="training"), "subset.*unless validation_split"),
                    (dict(validation_split=0.2), "subset.*when validation_split"),
                    (dict(validation_split=0.2, subset="training"), r"`seed`.*do not overlap"),
                    (dict(validation_split=0.01, subset="validation", seed=1), "leaves images for both"),
                    (dict(label_mode="binary"), "binary.*exactly 2"),
                    (dict(class_names=["apple", "kiwi"]), r"class_names.*\['apple', 'banana', 'cherry'\]"),
                    (dict(labels=[0, 1]), "2 labels for the 10 image files")]
    for options, message in split_errors:
        with pytest.raises(ClearCNNError, match=message):
            image_dataset_from_directory(folder, verbose=False, **options)


def test_corrupt_image_names_the_file_when_its_batch_is_read(folder):
    (folder / "cherry" / "c2.jpeg").write_bytes(b"\xff\xd8\xff garbage, not a JPEG")
    ds = image_dataset_from_directory(folder, batch_size=3, image_size=(4, 4), shuffle=False, verbose=False)
    batches = iter(ds)
    next(batches), next(batches)  # the files before it are fine
    with pytest.raises(ClearCNNError, match=r"cannot read the image file '.*c2\.jpeg'.*corrupt"):
        next(batches)
    with pytest.raises(ClearCNNError, match=r"c2\.jpeg"):
        load_image_folder(folder)


def test_missing_pillow_says_how_to_install(folder, monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ClearCNNError, match=r'pip install "clearcnn\[images\]"'):
        load_image_folder(folder, verbose=False)
