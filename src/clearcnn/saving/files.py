"""What both file formats share: atomic writes, the errors a damaged file can raise, safe zip archives, and
reading a member or array no larger than the model needs."""
import contextlib
import json
import math
import os
import re
import secrets
import stat
import time
import tokenize
import zipfile
import zlib

import numpy as np

from ..errors import ClearCNNError

try:
    import fcntl
except ImportError:  # Windows: there an open file cannot be deleted, which protects a save in progress instead
    fcntl = None

# What a damaged zip, .npy header or HDF5 file can raise while it is read: bad headers, bad CRC, bad deflate data,
# flags we never write, a header nested past the parser's depth or that numpy's parsers of old headers choke on,
# an HDF5 address past what a file object can seek to.
DAMAGE = (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, EOFError, OSError, ValueError,
          TypeError, KeyError, RecursionError, SyntaxError, tokenize.TokenError, OverflowError)
# A JSON member is the architecture and a few settings: a thousand layers take about a megabyte.
JSON_LIMIT = 16 * 2**20
NUMERIC_KINDS = "biuf"  # bool, signed and unsigned ints, floats: what a weight can be assigned from
NPY_HEADER_LIMIT = 2**16  # numpy reads headers of at most 10,000 bytes by default
# A temporary file left by a save killed mid-write is removed by the next save to the same path, once it is older
# than this and no live save holds its lock: the age covers the instant between creating the file and locking it.
STALE_SECONDS = 5


# --- writing ---------------------------------------------------------------------------------------

def write_atomically(filepath, write):
    """Call write(file) on a temporary file beside the target, then rename it over the target. The target keeps
    its mode (a new file gets the umask's); leftovers of earlier saves to this path that were killed are removed."""
    filepath = os.fspath(filepath)
    folder, name = os.path.split(os.path.abspath(filepath))
    if not os.path.isdir(folder):
        raise ClearCNNError(f"save: the folder of `filepath` does not exist; received filepath={filepath!r}.")
    if os.path.isdir(filepath):
        raise ClearCNNError(f"save: `filepath` is a folder; give a file name in it; received filepath={filepath!r}.")
    _remove_leftovers(folder, name)
    try:
        mode = stat.S_IMODE(os.stat(filepath).st_mode) & 0o777
    except OSError:
        mode = None
    temporary = os.path.join(folder, f".{name}.{secrets.token_hex(8)}.partial")
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                     0o666 if mode is None else 0o600)
    try:
        with os.fdopen(handle, "wb") as file:
            if fcntl is not None:
                with contextlib.suppress(OSError):  # a file system without locks: then no save removes it
                    fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if mode is not None:
                os.chmod(temporary, mode)  # before any byte is written: a private file's data is never readable
            write(file)
            file.flush()
            os.fsync(file.fileno())
            if fcntl is not None:  # renamed while still locked, so no other save takes it for a leftover
                os.replace(temporary, filepath)
        if fcntl is None:  # Windows renames closed files only
            os.replace(temporary, filepath)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _remove_leftovers(folder, name):
    """Remove the temporary files of saves to `name` that were killed mid-write (see STALE_SECONDS)."""
    pattern = re.compile(re.escape(f".{name}.") + r"[0-9a-f]{16}\.partial")
    for entry in os.scandir(folder):
        if not pattern.fullmatch(entry.name) or not entry.is_file(follow_symlinks=False):
            continue
        try:
            with open(entry.path, "rb") as leftover:
                if time.time() - os.fstat(leftover.fileno()).st_mtime < STALE_SECONDS:
                    continue
                if fcntl is not None:
                    fcntl.flock(leftover, fcntl.LOCK_EX | fcntl.LOCK_NB)  # refused while its save is alive
                os.unlink(entry.path)
        except OSError:  # held by a live save, removed by another one, or not ours to remove
            continue


# --- reading ---------------------------------------------------------------------------------------

def safe_archive(path, where, kind="a Keras archive"):
    """The open zip archive at `path`, refused when it is damaged or a member's name is absolute or holds `..`."""
    try:
        archive = zipfile.ZipFile(path)
    except DAMAGE as error:
        raise ClearCNNError(f"{where}: {os.fspath(path)!r} is not {kind}, or it is truncated or corrupt "
                            f"({error}).") from None
    for name in archive.namelist():
        parts = name.replace("\\", "/").split("/")
        if name.startswith(("/", "\\")) or ".." in parts or re.match(r"^[A-Za-z]:", name):
            archive.close()
            raise ClearCNNError(f"{where}: {os.fspath(path)!r} holds a member with an unsafe name ({name!r}); "
                                f"refusing to read it.")
    return archive


@contextlib.contextmanager
def _member(archive, name, limit, where):
    """The member as a stream, refused when its declared size passes `limit`; damage becomes ClearCNNError.
    The declared size can lie, so readers stop at `limit` as well."""
    label = f"{where}: {archive.filename!r}"
    try:
        size = archive.getinfo(name).file_size
        if size > limit:
            raise ClearCNNError(f"{label}: member {name} declares {size} bytes; at most {limit} are expected.")
        with archive.open(name) as stream:
            yield stream
    except ClearCNNError:
        raise
    except KeyError:
        raise ClearCNNError(f"{label} is incomplete: it has no member {name}.") from None
    except DAMAGE as error:
        raise ClearCNNError(f"{label} is damaged: member {name} cannot be read ({error}).") from None


DEFLATE_MOST = 1032  # deflate's largest ratio: no honest member unpacks to more than this times its packed size


def unpacked_bound(archive, names):
    """The most bytes the members `names` can honestly unpack to, whatever sizes they declare."""
    infos = [archive.getinfo(name) for name in names if name in archive.NameToInfo]
    return sum(min(info.file_size, info.compress_size * DEFLATE_MOST + 1024) for info in infos)


def read_member(archive, name, limit, where):
    """The member's bytes, refused past `limit`: a small compressed member can expand a thousandfold."""
    with _member(archive, name, limit, where) as stream:
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise ClearCNNError(f"{where}: {archive.filename!r}: member {name} holds more than {limit} bytes.")
    return data


def parse_json(data, where):
    """JSON text of at most JSON_LIMIT bytes, or ClearCNNError."""
    if len(data) > JSON_LIMIT:
        raise ClearCNNError(f"{where} holds {len(data)} bytes of JSON; at most {JSON_LIMIT} are expected.")
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ClearCNNError(f"{where} is not valid JSON ({str(error)[:200]}).") from None


def read_json(archive, name, where):
    return parse_json(read_member(archive, name, JSON_LIMIT, where), f"{where}: {archive.filename!r}: member {name}")


def check_declared(dtype, found, shape, where):
    """Refuse an array, before a byte of its data is read, unless it holds plain numbers in exactly `shape`."""
    if dtype.kind not in NUMERIC_KINDS:
        raise ClearCNNError(f"{where} holds values of dtype {dtype}; weights must be plain numbers (bool, int or "
                            f"float).")
    if tuple(found) != tuple(shape):
        raise ClearCNNError(f"{where}: this model needs shape {tuple(shape)} there; the file holds shape "
                            f"{tuple(found)} (it was saved from another architecture).")


def read_npy(archive, name, shape, where):
    """The .npy member `name` as a read-only array of exactly `shape` (the model copies it in): the header is
    checked first, then exactly the bytes it declares are read, so a member costs no more than its weight."""
    with _member(archive, name, NPY_HEADER_LIMIT + 16 * math.prod(shape), where) as stream:
        version = np.lib.format.read_magic(stream)
        if version not in ((1, 0), (2, 0)):
            raise ValueError(f".npy format version {version} is not one numpy writes for numbers")
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
            np.lib.format.read_array_header_2_0
        found, fortran, dtype = read_header(stream)
        check_declared(dtype, found, shape, f"{where}: {archive.filename!r}: member {name}")
        size = dtype.itemsize * math.prod(shape)
        data = stream.read(size)
        if len(data) != size or stream.read(1):
            raise ValueError(f"it declares {size} bytes of data and holds {'fewer' if len(data) < size else 'more'}")
    return np.frombuffer(data, dtype).reshape(shape, order="F" if fortran else "C")
