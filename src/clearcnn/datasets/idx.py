"""MNIST and Fashion-MNIST IDX files (`*-images-idx3-ubyte`, `*-labels-idx1-ubyte`), gzipped or not.

The IDX layout, all integers big-endian:

    bytes 0-3      magic number 0x000008NN: 0x08 says unsigned bytes, NN the number of dimensions
    next 4 * NN    the size of each dimension (images: count, rows, columns; labels: count)
    the rest       the values, row-major, one byte each
"""
import gzip
import os
import zlib

import numpy as np

from ..errors import ClearCNNError

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801
_KIND = {IMAGES_MAGIC: "images", LABELS_MAGIC: "labels"}
_EXAMPLE = {IMAGES_MAGIC: "train-images-idx3-ubyte.gz", LABELS_MAGIC: "train-labels-idx1-ubyte.gz"}


def load_idx(images, labels):
    """Read a pair of IDX files: images (N, rows, cols) and their labels (N,), both uint8.

    Either file may be gzipped (recognised by its first two bytes, 1f 8b, not by its name).
    A wrong magic number, a file shorter or longer than its header declares, or label and image
    counts that differ raise ClearCNNError naming the file.

    >>> x, y = load_idx("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")  # doctest: +SKIP
    >>> x.shape, y.shape                                                                # doctest: +SKIP
    ((60000, 28, 28), (60000,))
    """
    x = _read_idx(images, "images", IMAGES_MAGIC)
    y = _read_idx(labels, "labels", LABELS_MAGIC)
    if len(x) != len(y):
        raise ClearCNNError(
            f"load_idx: the labels file {os.fspath(labels)!r} holds {len(y)} labels but the images file "
            f"{os.fspath(images)!r} holds {len(x)} images; pass the two files of the same split "
            "(train-images with train-labels, t10k-images with t10k-labels).")
    return x, y


def _read_idx(path, argument, magic):
    path = os.fspath(path)
    try:
        raw = open(path, "rb")
    except OSError as exc:
        raise ClearCNNError(f"load_idx: argument `{argument}` must be the path of a readable IDX file such as "
                            f"{_EXAMPLE[magic]!r}; received {argument}={path!r} ({exc.strerror}).") from exc
    with raw:
        gzipped = raw.peek(2)[:2] == b"\x1f\x8b"
        stream = gzip.GzipFile(fileobj=raw) if gzipped else raw
        try:
            return _parse(stream, path, magic)
        except (OSError, EOFError, zlib.error) as exc:
            if not gzipped:
                raise
            raise ClearCNNError(f"load_idx: the {argument} file {path!r} is gzipped but cannot be decompressed "
                                f"({exc}); it is truncated or corrupt: download it again.") from exc


def _parse(stream, path, magic):
    where = f"load_idx: the {_KIND[magic]} file {path!r}"
    head = stream.read(4)
    found = int.from_bytes(head, "big") if len(head) == 4 else None
    if found != magic:
        hint = f"; it looks like an IDX {_KIND[found]} file: pass it as `{_KIND[found]}`" if found in _KIND else ""
        shown = "nothing (the file is shorter than 4 bytes)" if found is None else f"0x{found:08X}"
        raise ClearCNNError(f"{where} is not an IDX {_KIND[magic]} file: its magic number is {shown}, "
                            f"expected 0x{magic:08X} (as in {_EXAMPLE[magic]}){hint}.")
    ndim = magic & 0xFF
    header = stream.read(4 * ndim)
    if len(header) < 4 * ndim:
        raise ClearCNNError(f"{where} is truncated: it ends inside its header ({4 + len(header)} bytes, "
                            f"expected {4 + 4 * ndim}).")
    shape = tuple(int.from_bytes(header[i:i + 4], "big") for i in range(0, 4 * ndim, 4))
    expected = int(np.prod(shape))
    values = np.empty(expected, dtype=np.uint8)
    view, got = memoryview(values), 0
    while got < expected:
        step = stream.readinto(view[got:])
        if not step:
            break
        got += step
    if got < expected or stream.read(1):
        found_text = f"{got} bytes" if got < expected else "more bytes than that"
        raise ClearCNNError(f"{where} does not match its header: the header declares shape {shape}, that is "
                            f"{expected} bytes of values, but the file holds {found_text}; "
                            "it is truncated or corrupt: download it again.")
    return values.reshape(shape)
