"""MNIST and Fashion-MNIST IDX files (`*-images-idx3-ubyte`, `*-labels-idx1-ubyte`), gzipped or not.

The IDX layout, all integers big-endian:

    bytes 0-3      magic number 0x000008NN: 0x08 says unsigned bytes, NN the number of dimensions
    next 4 * NN    the size of each dimension (images: count, rows, columns; labels: count)
    the rest       the values, row-major, one byte each
"""
import gzip
import math
import os
import zlib

import numpy as np

from ..errors import ClearCNNError
from ._files import open_regular

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801
_KIND = {IMAGES_MAGIC: "images", LABELS_MAGIC: "labels"}
_EXAMPLE = {IMAGES_MAGIC: "train-images-idx3-ubyte.gz", LABELS_MAGIC: "train-labels-idx1-ubyte.gz"}
# Deflate codes at most 258 bytes in one symbol of at least 2 bits: no gzip inflates more than 1,032 times.
_DEFLATE_MAX_RATIO = 1032
_CHUNK = 1 << 20  # values are inflated and read 1 MiB at a time


def load_idx(images, labels):
    """Read a pair of IDX files: images (N, rows, cols) and their labels (N,), both uint8.

    Either file may be gzipped (recognised by its first two bytes, 1f 8b, not by its name).
    A wrong magic number, a file shorter or longer than its header declares, or label and image
    counts that differ raise ClearCNNError naming the file; a header that declares more values than the
    file can hold is refused before they are allocated. Only regular files are read (not FIFOs or devices).

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
        raw = open_regular(path)
    except OSError as exc:
        raise ClearCNNError(f"load_idx: argument `{argument}` must be the path of a readable IDX file such as "
                            f"{_EXAMPLE[magic]!r}; received {argument}={path!r} ({exc.strerror}).") from exc
    with raw:
        size = os.fstat(raw.fileno()).st_size
        gzipped = raw.peek(2)[:2] == b"\x1f\x8b"
        stream = gzip.GzipFile(fileobj=raw) if gzipped else raw
        try:
            return _parse(stream, path, magic, size, gzipped)
        except (OSError, EOFError, zlib.error) as exc:
            if not gzipped:
                raise
            raise ClearCNNError(f"load_idx: the {argument} file {path!r} is gzipped but cannot be decompressed "
                                f"({exc}); it is truncated or corrupt: download it again.") from exc


def _parse(stream, path, magic, size, gzipped):
    """The array in `stream`, a file of `size` bytes on disk.

    The values are allocated only once the header's shape is known to fit in the file: a raw file holds
    its size, a gzipped one at most _DEFLATE_MAX_RATIO times it. They are then read into that array, a
    chunk at a time, and one byte more must not exist, so a gzip that inflates further is refused
    without being inflated.
    """
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
    expected = math.prod(shape)  # a Python int: three 32-bit sizes can overflow int64

    def mismatch(holds):
        return ClearCNNError(f"{where} does not match its header: the header declares shape {shape}, that is "
                             f"{expected} bytes of values, but the file holds {holds}; "
                             "it is truncated or corrupt: download it again.")

    room = (size * _DEFLATE_MAX_RATIO if gzipped else size) - 4 - 4 * ndim
    if expected > room:
        raise mismatch(f"at most {room} bytes (gzipped, {size} bytes on disk)" if gzipped else f"{room} bytes")
    values = np.empty(expected, dtype=np.uint8)
    view, got = memoryview(values), 0
    while got < expected:
        step = stream.readinto(view[got:got + _CHUNK])
        if not step:
            raise mismatch(f"{got} bytes")
        got += step
    if stream.read(1):
        raise mismatch("more bytes than that")
    return values.reshape(shape)
