"""Opening data files: regular files only, since a FIFO blocks its reader and a device can stream forever."""
import errno
import os
import stat

_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))
# Non-blocking, so that opening a FIFO returns at once instead of waiting for a writer (for a regular file
# the flag changes nothing); no controlling terminal taken from a tty.
_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)


def open_regular(path):
    """Open `path` (symlinks followed) for binary reading; OSError unless it is a regular file.

    The check is made on the opened file, so nothing can swap the file for a FIFO between check and read.
    """
    fd = os.open(path, _FLAGS)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _KINDS if test(mode)), "a special file")
            raise OSError(errno.EINVAL, f"not a regular file but {kind}", os.fspath(path))
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def is_regular(path):
    """Whether `path` (symlinks followed) is a regular file: False for FIFOs, devices, sockets, broken links."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False
