"""What both file formats share: atomic writes, the errors a damaged file can raise, and safe zip archives."""
import os
import re
import tempfile
import zipfile
import zlib

from ..errors import ClearCNNError

# What a damaged zip can raise while it is read: bad headers, bad CRC, bad deflate data, flags we never write.
DAMAGE = (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, EOFError, OSError, ValueError)


def write_atomically(filepath, write):
    """Call write(file) on a temporary file in the target's folder, then rename it over the target."""
    filepath = os.fspath(filepath)
    folder = os.path.dirname(os.path.abspath(filepath))
    if not os.path.isdir(folder):
        raise ClearCNNError(f"save: the folder of `filepath` does not exist; received filepath={filepath!r}.")
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".", suffix=".partial")
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes the file private (0600); give it the usual mode
        os.replace(temporary, filepath)
    except BaseException:
        os.unlink(temporary)
        raise


def safe_archive(path, where):
    """The open zip archive at `path`, refused when it is damaged or a member's name is absolute or holds `..`."""
    try:
        archive = zipfile.ZipFile(path)
    except DAMAGE as error:
        raise ClearCNNError(f"{where}: {os.fspath(path)!r} is not a Keras archive, or it is corrupt ({error}).") \
            from None
    for name in archive.namelist():
        parts = name.replace("\\", "/").split("/")
        if name.startswith(("/", "\\")) or ".." in parts or re.match(r"^[A-Za-z]:", name):
            archive.close()
            raise ClearCNNError(f"{where}: {os.fspath(path)!r} holds a member with an unsafe name ({name!r}); "
                                f"refusing to read it.")
    return archive
