"""CIFAR-10 "python version" batches, read without running code from the files.

Each batch (`data_batch_1` ... `data_batch_5`, `test_batch`) is a pickled dict: `data` a uint8 array
(N, 3072) holding every image channel-major (1,024 red values row by row, then green, then blue) and
`labels` a list of N integers 0-9. Pickle can call any function named in the file, so the files are read
by an unpickler that resolves only the few NumPy names an array needs and refuses everything else.
What a hostile file could make the unpickler allocate is bounded by what the file holds: its opcodes are
walked first (declared lengths, memo slots, nesting, count), and each array is a view of bytes in the file
that fill exactly the shape it declares.
"""
import io
import math
import os
import pickle
import pickletools

import numpy as np

from ..errors import ClearCNNError
from ._files import open_regular

TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
SUBFOLDER = "cifar-10-batches-py"
_SOURCE = "cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html"

# A batch holds 10,000 images: 31 MB as written by Python 2, 47 MB re-saved by Python 3 with protocol 2
# (which stores bytes as UTF-8 text). Reading stops at the cap below: larger files are refused.
MAX_FILE_BYTES = 64 << 20
# A batch pickles one array, 10,000 labels and 10,000 file names: under 100,000 opcodes. Each opcode can
# make an object of about 100 bytes from one byte of file, so their number bounds the memory loading takes.
MAX_OPCODES = 150_000
# Tuples nested a million deep overflow the C stack when hashed as a dict key; a batch nests two deep (an
# array's state holds its shape).
MAX_NESTING = 32


class _Refused(Exception):
    """(what, why): a batch holds something no CIFAR-10 batch does; read_batch names the file."""


class _Dtype:
    """`numpy.dtype(name, align, copy)` in a batch: plain numbers only (bool, integers, floats, complex).

    Unpickling BUILDs it with a state from the file; only the byte order is taken from that state, so the
    file cannot give it fields, sub-arrays or objects.
    """

    def __init__(self, name, align=False, copy=False):
        # a name such as "u1" or "<f4"; a long one could describe millions of fields ("u1,u1,...")
        dtype = np.dtype(name) if isinstance(name, (str, bytes)) and len(name) <= 16 else None
        if dtype is None or dtype.kind not in "biufc":
            shown = repr(name) if dtype is not None else f"a {type(name).__name__} that is no short dtype name"
            raise _Refused(f"the dtype {shown}", "a CIFAR-10 batch holds arrays of plain numbers only")
        self.dtype = dtype

    def __setstate__(self, state):
        order = state[1].decode() if isinstance(state[1], bytes) else state[1]
        if order not in ("<", ">", "=", "|"):
            raise _Refused("a dtype whose byte order is not one of < > = |", "NumPy writes no other")
        self.dtype = self.dtype.newbyteorder(order)


class _Array:
    """An array in a batch, rebuilt only from bytes the file holds: NumPy pickles one as
    `_reconstruct(ndarray, (0,), b"b")` followed by BUILD with (shape, dtype, Fortran order, raw bytes),
    or (protocol 5) as `_frombuffer(raw bytes, dtype, shape, order)`. Called with a shape of its own, as
    `numpy.ndarray((1_000_000, 3072), ...)`, it would allocate memory that no bytes of the file fill, so
    that is refused. `array` is a read-only view of the file's bytes: nothing is copied."""
    array = None

    def __init__(self, *args):
        if args:
            raise _Refused("numpy.ndarray(shape, ...)", "an array in a CIFAR-10 batch is filled from bytes in the "
                           "file, never allocated empty")

    def __setstate__(self, state):
        if not (isinstance(state, tuple) and len(state) in (4, 5)):
            raise _Refused("an array state", "it is not NumPy's")
        *_, shape, dtype, fortran, raw = state  # version 1 starts with the version number, version 0 does not
        self.array = _from_bytes(raw, dtype, shape, "F" if fortran else "C")


def _reconstruct(subtype, shape, dtype):
    if subtype is not _Array:
        raise _Refused("an array whose type is not numpy.ndarray", "a CIFAR-10 batch holds plain arrays")
    return _Array()  # NumPy would allocate `shape` here; the shape that counts comes with the bytes (BUILD)


def _frombuffer(raw, dtype, shape, order):
    array = _Array()
    array.array = _from_bytes(raw, dtype, shape, order)
    return array


def _from_bytes(raw, dtype, shape, order):
    """An array of `shape` viewing `raw`, which must hold exactly the bytes that shape declares."""
    if not (isinstance(raw, (bytes, bytearray)) and isinstance(dtype, _Dtype) and order in ("C", "F")
            and isinstance(shape, tuple) and len(shape) <= 32 and all(type(n) is int and n >= 0 for n in shape)):
        raise _Refused("an array whose bytes, dtype, shape or order are not NumPy's", "NumPy writes no such array")
    declared = math.prod(shape) * dtype.dtype.itemsize
    if declared != len(raw):
        raise _Refused(f"an array of shape {shape} of {dtype.dtype}", f"that is {declared} bytes, but the file "
                       f"gives it {len(raw)} bytes")
    return np.frombuffer(raw, dtype.dtype).reshape(shape, order=order)


_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,  # NumPy 1 names
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,  # NumPy 2 names
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
    ("numpy", "ndarray"): _Array,
    ("numpy", "dtype"): _Dtype,
}


class _BatchUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild NumPy arrays, lists, dicts and strings, and nothing else."""

    def __init__(self, data):
        super().__init__(io.BytesIO(data), encoding="bytes")  # the original batches were written by Python 2
        self.budget = len(data)  # bytes that _codecs.encode may still make: no more than the file holds

    def find_class(self, module, name):
        if (module, name) == ("_codecs", "encode"):  # how protocol 2 stores bytes written by Python 3
            return self._encode
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise _Refused(f"to load class {module}.{name}", "a CIFAR-10 batch holds only NumPy arrays, lists and "
                           "strings, so this file is not one and was not run") from None

    def persistent_load(self, pid):
        raise _Refused("a persistent reference", "a CIFAR-10 batch has none")

    def _encode(self, text, encoding="utf-8"):
        """Latin-1 text -> the same bytes; each call is charged, so text named many times from the memo
        cannot make more bytes than the file holds."""
        if not (isinstance(text, str) and encoding in ("latin1", "latin-1") and len(text) <= self.budget):
            raise _Refused("a _codecs.encode call", "a batch encodes each string it holds once, as latin1")
        self.budget -= len(text)
        return text.encode("latin1")


def _stack_effect(opcode):
    """(whether it pops down to the last MARK, objects it pops besides, objects it pushes, what it does)."""
    before, mark = opcode.stack_before, pickletools.markobject
    nests = opcode.stack_after in ([pickletools.pytuple], [pickletools.pyfrozenset])
    kind = ("nest" if nests else "get" if opcode.name.endswith("GET") else
            "put" if opcode.name.endswith("PUT") or opcode.name == "MEMOIZE" else opcode.name)
    return mark in before, before.index(mark) if mark in before else len(before), len(opcode.stack_after), kind


_STACK_EFFECTS = {opcode.code: _stack_effect(opcode) for opcode in pickletools.opcodes}


def _check_opcodes(data):
    """Walk the pickle's opcodes without building anything, and refuse what no batch needs.

    pickletools reads only the bytes present, where the unpickler would first allocate what a length field
    declares. Each opcode's stack effect (as pickletools describes it) is followed with, for every object
    the unpickler would hold, how deep tuples nest in it; the memo slot it writes must be the next one,
    since the unpickler grows its memo to the largest slot named.
    """
    stack, marks, memo = [], [], {}
    for count, (opcode, arg, _) in enumerate(pickletools.genops(data)):
        if count == MAX_OPCODES:
            raise _Refused(f"more than {MAX_OPCODES} pickle opcodes", "a CIFAR-10 batch holds far fewer")
        to_mark, fixed, pushes, kind = _STACK_EFFECTS[opcode.code]
        start = max((marks.pop() if marks else 0) if to_mark else len(stack) - fixed, 0)
        popped, stack[start:] = stack[start:], []
        if kind == "MARK":
            marks.append(len(stack))
        elif kind == "nest":
            stack.append(1 + max(popped, default=0))
            if stack[-1] > MAX_NESTING:
                raise _Refused(f"tuples nested more than {MAX_NESTING} deep", "a batch nests them two deep")
        elif kind == "get":
            stack.append(memo.get(arg, 0))
        else:  # the objects an opcode keeps (PUT, BUILD, APPEND, DUP) keep their nesting; new ones have none
            stack += (popped + popped[-1:] * pushes + [0] * pushes)[:pushes]
        if kind == "put":
            slot = len(memo) if arg is None else arg  # MEMOIZE takes the next slot
            if slot > len(memo):
                raise _Refused(f"memo slot {slot} after {len(memo)} slots", "Python fills them in order")
            memo[slot] = stack[-1] if stack else 0


def load_cifar10(directory):
    """Read the CIFAR-10 python batches in `directory` (or in its `cifar-10-batches-py/` folder).

    Returns `((x_train, y_train), (x_test, y_test))` as `keras.datasets.cifar10.load_data()` does: `x` uint8
    (N, 32, 32, 3) channels_last, `y` uint8 0-9 of shape (N, 1).
    Training data are `data_batch_1` to `data_batch_5` in order (50,000 images), test data `test_batch`.

    >>> (x_train, y_train), (x_test, y_test) = load_cifar10("cifar-10-batches-py")  # doctest: +SKIP
    """
    folder = os.fspath(directory)
    if not os.path.isdir(folder):
        raise ClearCNNError(f"load_cifar10: argument `directory` must be a folder holding the CIFAR-10 python "
                            f"batches (extracted from {_SOURCE}); received directory={folder!r}, "
                            "which is not a folder.")
    nested = os.path.join(folder, SUBFOLDER)
    if not os.path.exists(os.path.join(folder, TRAIN_BATCHES[0])) and os.path.isdir(nested):
        folder = nested
    names = TRAIN_BATCHES + (TEST_BATCH,)
    missing = [name for name in names if not os.path.isfile(os.path.join(folder, name))]
    if missing:
        raise ClearCNNError(f"load_cifar10: the folder {folder!r} lacks {', '.join(missing)}; it must hold "
                            f"{', '.join(names)} (extract {_SOURCE}).")
    train = [read_batch(os.path.join(folder, name)) for name in TRAIN_BATCHES]
    x_train = np.concatenate([x for x, _ in train])
    y_train = np.concatenate([y for _, y in train])
    x_test, y_test = read_batch(os.path.join(folder, TEST_BATCH))
    return (x_train, y_train[:, None]), (x_test, y_test[:, None])


def read_batch(path):
    """One batch file -> (x uint8 (N, 32, 32, 3), y uint8 (N,))."""
    try:
        with open_regular(path) as file:  # one byte more than the cap tells a file that is too large
            data = file.read(min(os.fstat(file.fileno()).st_size, MAX_FILE_BYTES) + 1)
        if len(data) > MAX_FILE_BYTES:
            raise _Refused(f"a file of more than {MAX_FILE_BYTES >> 20} MB", "no CIFAR-10 batch is that large")
        _check_opcodes(data)
        batch = _BatchUnpickler(data).load()
    except _Refused as refusal:
        what, why = refusal.args
        raise ClearCNNError(f"load_cifar10: refusing {what} from {path!r}: {why} (download {_SOURCE}).") from None
    except Exception as exc:  # a damaged pickle can fail in many ways; none of them runs foreign code
        raise ClearCNNError(f"load_cifar10: {path!r} is not a readable CIFAR-10 batch "
                            f"({type(exc).__name__}: {exc}); it is truncated or corrupt "
                            f"(download {_SOURCE} again).") from exc
    data, labels = _field(batch, "data", path), _field(batch, "labels", path)
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2 and data.shape[1] == 3072):
        found = f"{data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise ClearCNNError(f"load_cifar10: the `data` of {path!r} is a {found}; a CIFAR-10 batch holds a uint8 "
                            "array of shape (N, 3072): 32 x 32 pixels x 3 channels per image.")
    if isinstance(labels, np.ndarray) and labels.ndim == 1:
        labels = labels.tolist()
    if not (isinstance(labels, list) and len(labels) == len(data)
            and all(type(v) is int and 0 <= v <= 9 for v in labels)):
        found = f"a list of {len(labels)} items" if isinstance(labels, list) else f"a {type(labels).__name__}"
        raise ClearCNNError(f"load_cifar10: the `labels` of {path!r} must be a list of {len(data)} integers 0-9, "
                            f"one per image; found {found}.")
    x = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # channel-major -> (N, H, W, C)
    return np.ascontiguousarray(x), np.array(labels, dtype=np.uint8)


def _field(batch, key, path):
    """batch[b"key"], or batch["key"] for files re-saved by Python 3; arrays as NumPy arrays."""
    if isinstance(batch, dict):
        for candidate in (key.encode(), key):
            if candidate in batch:
                value = batch[candidate]
                return value.array if isinstance(value, _Array) else value
    found = "a dict without them" if isinstance(batch, dict) else f"a {type(batch).__name__}"
    raise ClearCNNError(f"load_cifar10: {path!r} is not a CIFAR-10 batch: expected a dict with keys "
                        f"b'data' and b'labels'; found {found}.")
