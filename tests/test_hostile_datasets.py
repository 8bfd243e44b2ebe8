"""Hostile and damaged dataset files: every reader loads them or raises ClearCNNError, quickly, in bounded memory,
and never hangs. Each class of attack has a test that reproduces it; Hypothesis then mutates valid files."""
import contextlib
import gzip
import os
import pickle
import socket
import struct
import tempfile
import threading
import time
import tracemalloc
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from clearcnn.datasets import image_dataset_from_directory, load_idx, load_image_folder
from clearcnn.datasets.cifar import read_batch
from clearcnn.errors import ClearCNNError

Image = pytest.importorskip("PIL.Image")

SECONDS = 1.0  # what one hostile file may cost at most
FUZZ_BYTES = 50 << 20  # traced memory (Python objects and NumPy arrays) for one mutated file
BOMB_BYTES = 5 << 20  # for a bomb refused from its header


def bounded(call, *args, limit=FUZZ_BYTES, **kwargs):
    """call(...)'s result or the ClearCNNError it raised, after checking that it needs under `limit` bytes of
    traced memory and under SECONDS (timed on a second call, untraced: tracing slows Python several times);
    any other exception propagates."""
    def outcome():
        try:
            return call(*args, **kwargs)
        except ClearCNNError as error:
            return error
    tracemalloc.start()
    try:
        outcome()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < limit, f"peak traced memory {peak / 2**20:.1f} MB"
    start = time.perf_counter()
    result = outcome()
    assert time.perf_counter() - start < SECONDS, f"took {time.perf_counter() - start:.2f} s"
    return result


def refused(call, *args, limit=BOMB_BYTES, **kwargs):
    result = bounded(call, *args, limit=limit, **kwargs)
    assert isinstance(result, ClearCNNError), f"loaded: {type(result).__name__}"
    return str(result)


def finishes(call, seconds=10):
    """call()'s result or the exception it raised, run in a thread: a call still running after `seconds` hangs."""
    outcome = []

    def run():
        try:
            outcome.append(call())
        except BaseException as error:  # handed to the test
            outcome.append(error)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"still running after {seconds} s: it hangs"
    if isinstance(outcome[0], BaseException) and not isinstance(outcome[0], ClearCNNError):
        raise outcome[0]
    return outcome[0]


@contextlib.contextmanager
def written(payload, name="file"):
    """A temporary folder holding `payload` at `name`; yields the file's path (Hypothesis reuses no tmp_path)."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as file:
            file.write(payload)
        yield path


def special(path, kind):
    """Make a FIFO, a socket, a link to a device or a dangling link at `path`."""
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":  # bound where the path is short enough for AF_UNIX, then moved
        with tempfile.TemporaryDirectory() as short, socket.socket(socket.AF_UNIX) as server:
            server.bind(os.path.join(short, "s"))
            os.rename(os.path.join(short, "s"), path)
    elif kind == "device":
        os.symlink(os.devnull, path)
    else:
        os.symlink(os.fspath(path) + ".gone", path)


needs_posix = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs, sockets and devices are POSIX")


# ---------------------------------------------------------------- IDX files

def idx(magic, shape, values=b""):
    return struct.pack(">I", magic) + struct.pack(f">{len(shape)}I", *shape) + values


LABELS = idx(2049, (2,), b"\x01\x02")
IMAGES = idx(2051, (2, 3, 4), bytes(range(24)))


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("shape", [(60000, 28, 28), (2 ** 31, 2 ** 31, 1), (2 ** 32 - 1,) * 3],
                         ids=["mnist", "int64", "overflows-int64"])
def test_idx_declared_shape_is_checked_against_the_file_before_allocating(shape, gz):
    payload = idx(2051, shape, bytes(100))
    with written(gzip.compress(payload) if gz else payload) as images, written(LABELS) as labels:
        message = refused(load_idx, images, labels)
    assert f"declares shape {shape}" in message and ("at most" in message) == gz


def test_idx_gzip_bomb_is_refused_from_its_header():
    # 1 MB of zeros gzips to 1 KB, which can inflate to about 1 MB, never to the 100 MB the header declares
    payload = idx(2051, (100_000, 1000, 1), bytes(1 << 20))
    with written(gzip.compress(payload)) as images, written(LABELS) as labels:
        assert "at most" in refused(load_idx, images, labels)


@pytest.mark.parametrize("tail", ["zeros", "member", "garbage"])
def test_idx_gzip_that_inflates_past_its_header_is_refused_without_inflating(tail):
    extra = {"zeros": lambda: gzip.compress(IMAGES + bytes(50 << 20)),  # the same member, 50 MB longer
             "member": lambda: gzip.compress(IMAGES) + gzip.compress(bytes(50 << 20)),
             "garbage": lambda: gzip.compress(IMAGES) + b"trailing bytes"}[tail]()
    with written(extra) as images, written(LABELS) as labels:
        assert "more bytes than that" in refused(load_idx, images, labels) or tail == "garbage"


@needs_posix
@pytest.mark.parametrize("kind", ["fifo", "socket", "device", "folder"])
def test_idx_reads_only_regular_files(kind, tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    os.mkdir(path) if kind == "folder" else special(path, kind)
    labels = tmp_path / "labels"
    labels.write_bytes(LABELS)
    error = finishes(lambda: load_idx(path, labels))
    assert isinstance(error, ClearCNNError)
    assert "`images`" in str(error) and ("not a regular file" in str(error) or kind == "socket")


# ---------------------------------------------------------------- CIFAR-10 batches

def py2_batch(data, labels):
    """A batch as Python 2's cPickle wrote the published files: protocol 2, NumPy 1 names, str as BINSTRING."""
    def text(value):
        return (b"U" + bytes([len(value)]) if len(value) < 256 else b"T" + struct.pack("<I", len(value))) + value

    def integer(value):
        return b"K" + bytes([value]) if value < 256 else b"M" + struct.pack("<H", value)
    dtype = (b"cnumpy\ndtype\n" + text(b"u1") + b"K\x00K\x01\x87R(K\x03" + text(b"|")
             + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb")
    array = (b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85" + text(b"b") + b"\x87R(K\x01"
             + integer(len(data)) + integer(3072) + b"\x86" + dtype + b"\x89" + text(data.tobytes()) + b"tb")
    listed = b"](" + b"".join(integer(int(v)) for v in labels) + b"e"
    return b"\x80\x02}(" + text(b"data") + array + text(b"labels") + listed + b"u."


def batch_of(data_ops, protocol=b"\x80\x02"):
    """A batch dict whose `data` is whatever `data_ops` push, with one label."""
    return protocol + b"}(U\x04data" + data_ops + b"U\x06labels]K\x00au."


def unicode(text):
    return b"X" + struct.pack("<I", len(text)) + text.encode()


_reconstruct = np.empty(0).__reduce__()[0]
_frombuffer = np.empty(0).__reduce_ex__(5)[0]


class Reduces:
    """Pickled as the `reduce` tuple it is given."""

    def __init__(self, *reduce):
        self.reduce = reduce

    def __reduce__(self):
        return self.reduce


def dumped(data, protocol=2):
    return pickle.dumps({b"data": data, b"labels": [0]}, protocol=protocol)


ENCODE = b"c_codecs\nencode\nq\x00"
HOSTILE_BATCHES = {
    # the file of the report: 240 bytes that ask numpy.ndarray for 3 GB
    "ndarray": dumped(Reduces(np.ndarray, ((1_000_000, 3072), np.dtype(np.uint8)))),
    "reconstruct": dumped(Reduces(_reconstruct, (np.ndarray, (0,), b"b"),
                                  (1, (1_000_000, 3072), np.dtype(np.uint8), False, bytes(10)))),
    "frombuffer": dumped(Reduces(_frombuffer, (bytearray(10), np.dtype(np.uint8), (1_000_000, 3072), "C")), 5),
    "object-dtype": dumped(Reduces(_reconstruct, (np.ndarray, (0,), b"b"),
                                   (1, (10_000_000,), np.dtype(object), False, [0]))),
    # _codecs.encode(..., "hex") 24 times over: 64 bytes become 1 GB
    "hex": batch_of(ENCODE + b"h\x00(" * 25 + unicode("a" * 64) + unicode("latin1") + b"tR"
                    + (unicode("hex") + b"tR") * 24),
    # the same 1 MB string from the memo, encoded 60 times: 60 MB
    "memo": batch_of(ENCODE + unicode("a" * (1 << 20)) + b"q\x01" + unicode("latin1") + b"q\x02"
                     + b"](" + b"h\x00h\x01h\x02\x86R" * 60 + b"e"),
    # a length field of 8 GB in front of 5 bytes
    "bytes8": batch_of(b"\x8e" + struct.pack("<Q", 1 << 33) + b"short", b"\x80\x04"),
    # memo slot 2**28: the unpickler would grow its memo to 4 GB
    "memo-slot": batch_of(b"Nr" + struct.pack("<I", 1 << 28)),
    # a dict key a million tuples deep: hashing it overflows the C stack
    "deep-tuple": b"\x80\x02}(N" + b"\x85" * 1_000_000 + b"Nu.",
    # 3 million empty lists from 3 MB
    "many-objects": batch_of(b"]" * 3_000_000),
}


@pytest.mark.parametrize("name", HOSTILE_BATCHES)
def test_cifar_pickle_bombs_are_refused_quickly_in_little_memory(name):
    with written(HOSTILE_BATCHES[name], "data_batch_1") as path:
        assert "data_batch_1" in refused(read_batch, path)


@pytest.mark.parametrize("form", ["python2", "protocol2", "protocol4", "protocol5"])
def test_cifar_full_size_batches_still_load(form):
    rng = np.random.default_rng(2)
    data, labels = rng.integers(0, 256, (10_000, 3072), dtype=np.uint8), rng.integers(0, 10, 10_000)
    batch = {b"batch_label": b"training batch 1 of 5", b"labels": labels.tolist(), b"data": data,
             b"filenames": [f"leptodactylus_pentadactylus_s_{i:06d}.png".encode() for i in range(10_000)]}
    blob = py2_batch(data, labels) if form == "python2" else pickle.dumps(batch, protocol=int(form[-1]))
    with written(blob) as path:
        x, y = read_batch(path)
    assert x.shape == (10_000, 32, 32, 3) and y.tolist() == labels.tolist()
    np.testing.assert_array_equal(x[:, :, :, 2].reshape(10_000, 1024), data[:, 2048:])


# ---------------------------------------------------------------- image folders

def png(size=(3, 2), colour=(200, 30, 30), fmt="PNG"):
    path = tempfile.mktemp()
    Image.new("RGB", size, colour).save(path, format=fmt)
    with open(path, "rb") as file:
        blob = file.read()
    os.remove(path)
    return blob


def images(root, names):
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png())
    return root


def test_symlink_loops_end_and_each_real_folder_counts_once(tmp_path):
    root = images(tmp_path / "root", ["cats/a.png", "cats/deep/b.png", "dogs/c.png", "dogs/sub/d.png"])
    os.symlink(root / "cats", root / "cats" / "deep" / "loop")  # cats/deep/loop/deep/loop/...
    os.symlink(root / "dogs", root / "dogs" / "self")  # dogs/self/self/...
    for name in ("x1", "x2"):  # dogs/sub twice more
        os.symlink(root / "dogs" / "sub", root / "dogs" / name)
    expected = [os.path.join(*parts) for parts in [("cats", "a.png"), ("cats", "deep", "b.png"), ("dogs", "c.png"),
                                                   ("dogs", "sub", "d.png")]]
    for labels in ("inferred", None):
        ds = finishes(lambda labels=labels: image_dataset_from_directory(root, labels=labels, follow_links=True,
                                                                         shuffle=False, verbose=False))
        assert [os.path.relpath(path, root) for path in ds.file_paths] == expected


@needs_posix
def test_fifos_sockets_devices_and_broken_links_named_like_images_are_skipped_with_a_warning(tmp_path):
    root = images(tmp_path / "root", ["cats/a.png", "dogs/b.png", "dogs/folder.png/c.png"])
    for name, kind in [("pipe.png", "fifo"), ("sock.png", "socket"), ("zero.png", "device"), ("gone.png", "link")]:
        special(root / "cats" / name, kind)
    with pytest.warns(UserWarning, match=r"skipped 4 entries .*not regular files.*pipe\.png"):
        ds = image_dataset_from_directory(root, image_size=(2, 2), batch_size=2, shuffle=False, verbose=False)
    assert [os.path.basename(path) for path in ds.file_paths] == ["a.png", "b.png", "c.png"]
    assert [len(y) for _, y in finishes(lambda: list(ds))] == [2, 1]


@needs_posix
def test_a_file_swapped_for_a_fifo_after_indexing_is_an_error_not_a_hang(tmp_path):
    root = images(tmp_path / "root", ["cats/a.png", "cats/b.png"])
    ds = image_dataset_from_directory(root, image_size=(2, 2), verbose=False)
    os.remove(root / "cats" / "b.png")
    os.mkfifo(root / "cats" / "b.png")
    error = finishes(lambda: list(ds))
    assert isinstance(error, ClearCNNError) and "b.png" in str(error) and "FIFO" in str(error)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_image_names_the_file(tmp_path):
    root = images(tmp_path / "root", ["cats/a.png", "cats/locked.png"])
    os.chmod(root / "cats" / "locked.png", 0)
    with pytest.raises(ClearCNNError, match=r"locked\.png.*Permission denied"):
        load_image_folder(root, verbose=False)


@pytest.mark.parametrize("call", ["dataset", "folder"])
def test_an_image_size_that_cannot_fit_in_memory_is_refused_with_the_size(tmp_path, call):
    root = images(tmp_path / "root", ["cats/a.png", "cats/b.png"])
    if call == "dataset":
        message = refused(image_dataset_from_directory, root, image_size=(100_000, 100_000), verbose=False)
        assert "one batch of images of shape (2, 100000, 100000, 3)" in message
    else:
        message = refused(load_image_folder, root, image_size=(100_000, 100_000), verbose=False)
    assert "would need 223.52 GB" in message and "image_size" in message


@pytest.mark.parametrize("argument, value", [
    ("image_size", (True, 4)), ("image_size", (4.0, 4)), ("image_size", (-1, 4)), ("image_size", "32"),
    ("batch_size", True), ("batch_size", 1.5), ("batch_size", "32"), ("batch_size", -1), ("batch_size", float("nan")),
    ("seed", "x"), ("seed", -1), ("seed", 2 ** 32), ("seed", 1.5), ("color_mode", ["rgb"]), ("class_names", 5),
    ("labels", ["a", "b"]), ("labels", [0, 2 ** 40]), ("labels", [0, None])])
def test_nonsense_arguments_are_refused_by_name(tmp_path, argument, value):
    root = images(tmp_path / "root", ["cats/a.png", "dogs/b.png"])
    with pytest.raises(ClearCNNError, match=f"`{argument}`"):
        image_dataset_from_directory(root, verbose=False, **{argument: value})


def test_images_over_pillows_pixel_limit_are_refused_not_decoded(tmp_path, monkeypatch):
    root = images(tmp_path / "root", ["cats/a.png"])
    (root / "cats" / "big.png").write_bytes(png((40, 40)))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow warns from 1,000 pixels, raises from 2,000
    with warnings.catch_warnings(), pytest.raises(ClearCNNError, match=r"big\.png.*40 x 40 = 1600 pixels"):
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        load_image_folder(root, image_size=(2, 2), verbose=False)


def test_a_png_that_declares_a_billion_pixels_is_refused_from_its_header(tmp_path):
    import zlib

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    bomb = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 40_000, 40_000, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(bytes(1 << 20))) + chunk(b"IEND", b""))
    root = images(tmp_path / "root", ["cats/a.png"])
    (root / "cats" / "bomb.png").write_bytes(bomb)
    assert "bomb.png" in refused(load_image_folder, root, image_size=(2, 2), verbose=False)


@pytest.mark.parametrize("fmt", ["TIFF", "WEBP", "ICO"])
def test_only_the_four_image_formats_are_decoded_whatever_the_name(tmp_path, fmt):
    root = images(tmp_path / "root", ["cats/a.png"])
    (root / "cats" / "other.png").write_bytes(png(fmt=fmt))
    with pytest.raises(ClearCNNError, match=r"other\.png.*cannot identify"):
        load_image_folder(root, image_size=(2, 2), verbose=False)


# ---------------------------------------------------------------- Hypothesis: mutated valid files

def edits(*extra):
    """Up to four edits of a file: flip, insert, delete, overwrite, truncate, plus `extra` strategies."""
    at = st.integers(0, 1 << 16)
    edit = st.one_of(st.tuples(st.just("flip"), at, st.integers(1, 255)),
                     st.tuples(st.just("insert"), at, st.binary(min_size=1, max_size=16)),
                     st.tuples(st.just("delete"), at, st.integers(1, 64)),
                     st.tuples(st.just("overwrite"), at, st.binary(min_size=1, max_size=8)),
                     st.tuples(st.just("truncate"), at, st.none()), *extra)
    return st.lists(edit, max_size=4)


def edited(payload, changes):
    data = bytearray(payload)
    for kind, at, value in changes:
        at = (at or 0) % (len(data) + 1)
        if kind == "flip" and at < len(data):
            data[at] ^= value
        elif kind == "insert":
            data[at:at] = value
        elif kind == "delete":
            del data[at:at + value]
        elif kind == "overwrite":
            data[at:at + len(value)] = value
        elif kind == "truncate":
            del data[at:]
        elif kind == "replace":  # value: (old, new), the first occurrence
            data = bytearray(bytes(data).replace(*value, 1))
    return bytes(data)


def loads_or_refuses(result, check):
    if not isinstance(result, ClearCNNError):
        check(result)


# the header's sizes rewritten, huge or not; zeros appended (which gzip shrinks to nothing)
IDX_EDITS = edits(st.tuples(st.just("overwrite"), st.sampled_from([0, 4, 8, 12]),
                            st.integers(0, 2 ** 32 - 1).map(lambda n: struct.pack(">I", n))),
                  st.tuples(st.just("insert"), st.integers(0, 1 << 16), st.integers(0, 4 << 20).map(bytes)))


@given(changes=IDX_EDITS, after_gzip=edits(), gz=st.booleans(), which=st.sampled_from(["images", "labels"]))
def test_fuzz_idx(changes, after_gzip, gz, which):
    payload = edited(IMAGES if which == "images" else LABELS, changes)
    payload = edited(gzip.compress(payload, mtime=0), after_gzip) if gz else payload
    with written(payload) as damaged, written(IMAGES) as images, written(LABELS) as labels:
        result = bounded(load_idx, damaged if which == "images" else images, damaged if which == "labels" else labels)

    def check(pair):
        assert pair[0].dtype == pair[1].dtype == np.uint8 and len(pair[0]) == len(pair[1])
    loads_or_refuses(result, check)


SMALL = np.random.default_rng(3).integers(0, 256, (2, 3072), dtype=np.uint8)
SMALL_BATCHES = [py2_batch(SMALL, [3, 4])] + [pickle.dumps({b"data": SMALL, b"labels": [3, 4]}, protocol=p)
                                              for p in (2, 4, 5)]
# opcodes a hostile batch could splice in: foreign and conjuring names, lengths far past the end, memo slots
# far ahead, deep tuples, huge integers, frames, encodings that multiply bytes
SPLICES = [b"cnumpy\nndarray\n", b"cos\nsystem\n", b"c_codecs\nencode\n", b"cbuiltins\neval\n",
           b"\x8e" + struct.pack("<Q", 1 << 40), b"B\xff\xff\xff\x7f", b"T\xff\xff\xff\x7f", b"\x8d" + b"\xff" * 8,
           b"r\xff\xff\xff\x0f", b"\x95" + struct.pack("<Q", 1 << 40), b"\x85" * 64, b"(" * 64, b"t" * 8,
           b"\x8b\xff\xff\xff\x7f", b"J\xff\xff\xff\x7f", b"X\x03\x00\x00\x00hex", b"R", b"b", b"h\x00", b"\x94",
           b"\x93", b"Q", b"\x81", b"\x92", b"\x97", b"\x98", b"0", b"2", b"\x8f", b"\x90", b"\x91", b"."]
CIFAR_EDITS = edits(st.tuples(st.just("insert"), st.integers(0, 1 << 16), st.sampled_from(SPLICES)),
                    st.tuples(st.just("replace"), st.none(), st.integers(0, 2 ** 31 - 1).map(
                        lambda n: (b"K\x02M\x00\x0c\x86", b"J" + struct.pack("<i", n) + b"M\x00\x0c\x86"))))


@given(changes=CIFAR_EDITS, which=st.sampled_from(range(len(SMALL_BATCHES))))
def test_fuzz_cifar_batch(changes, which):
    with written(edited(SMALL_BATCHES[which], changes)) as path:
        result = bounded(read_batch, path)

    def check(pair):
        assert pair[0].dtype == np.uint8 and pair[0].shape[1:] == (32, 32, 3) and len(pair[1]) == len(pair[0])
    loads_or_refuses(result, check)


IMAGE_FILES = {fmt: png((5, 4), fmt=fmt) for fmt in ("PNG", "BMP", "GIF", "JPEG")}


@pytest.fixture
def small_pixel_limit(monkeypatch):
    """Pillow's own memory is not traced: hold mutated headers to images of a million pixels."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1 << 20)


@given(changes=edits(), fmt=st.sampled_from(sorted(IMAGE_FILES)))
def test_fuzz_image_file(small_pixel_limit, changes, fmt):
    with written(edited(IMAGE_FILES[fmt], changes), os.path.join("cats", "x.png")) as path:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns about some damage it repairs
            result = bounded(load_image_folder, os.path.dirname(os.path.dirname(path)), image_size=(3, 3),
                             verbose=False)

    def check(loaded):
        assert loaded[0].shape == (1, 3, 3, 3) and loaded[0].dtype == np.float32
    loads_or_refuses(result, check)


ENTRY = st.tuples(st.sampled_from(["folder", "image", "text", "fifo", "socket", "device", "link", "dangling",
                                   "folder.png"]), st.integers(0, 99), st.integers(0, 99))


def build_tree(root, entries):
    """Folders, images and special files under root/cats; links point to any earlier entry, the root included."""
    folders, made = [root, os.path.join(root, "cats")], [root]
    os.mkdir(folders[1])
    images_made = 0
    for i, (kind, parent, target) in enumerate(entries):
        path = os.path.join(folders[parent % len(folders)], f"e{i}" + ("" if kind in ("folder", "text") else ".png"))
        if kind.startswith("folder"):
            os.mkdir(path)
            folders.append(path)
        elif kind == "image":
            with open(path, "wb") as file:
                file.write(IMAGE_FILES["PNG"])
            images_made += 1
        elif kind == "text":
            with open(path, "w") as file:
                file.write("not an image")
        elif kind == "link":
            os.symlink(made[target % len(made)], path)
        else:
            special(path, kind)
        made.append(path)
    return images_made


@needs_posix
@given(entries=st.lists(ENTRY, max_size=12), follow_links=st.booleans(), labels=st.sampled_from(["inferred", None]))
def test_fuzz_image_folder_tree(entries, follow_links, labels):
    with tempfile.TemporaryDirectory() as root:
        build_tree(root, entries)

        def read_all():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = image_dataset_from_directory(root, labels=labels, follow_links=follow_links, image_size=(2, 2),
                                                  batch_size=4, shuffle=False, verbose=False)
            return ds, [batch for batch in ds]
        result = finishes(lambda: bounded(read_all))
        if not isinstance(result, ClearCNNError):
            ds, batches = result
            assert all(os.path.isfile(path) for path in ds.file_paths)
            assert sum(len(x if labels is None else x[0]) for x in batches) == len(ds.file_paths)
