"""Freed memory kept for the next training step instead of handed back to the system.

Every step allocates and frees the same arrays: layer outputs, gradients, temporaries. glibc's malloc serves
a block above its mmap threshold (128 KB at first, rising with use) with freshly mapped pages and unmaps it
when it is freed, and it gives the free top of its heap back to the system once that passes the trim
threshold. Either way the next step maps the memory again, and the kernel hands it over one zeroed page at a
time, on first touch: system time that grows with every step. Fixed, high thresholds keep freed blocks in the
heap, where the next step finds them. The peak is what a step needs, as before; what stays mapped between
steps is at most that peak.

Only glibc is touched, once, and only where the user has not tuned its malloc through the environment.
Arrays above the highest mmap threshold glibc accepts are still mapped anew: the ops keep those in
workspaces (workspace.py).
"""
import ctypes
import os
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers, from glibc's malloc.h
MMAP_THRESHOLD = 32 << 20  # the most glibc accepts on 64-bit systems (half its heap size)
TRIM_THRESHOLD = 1 << 30
_done = False


def keep_freed_memory():
    """Raise glibc's mmap and trim thresholds (see the module's docstring); elsewhere, or when done, nothing."""
    global _done
    if _done:
        return
    _done = True
    if not sys.platform.startswith("linux") or any(name.startswith(("MALLOC_", "GLIBC_TUNABLES"))
                                                  for name in os.environ):
        return
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the interpreter runs on
    except (OSError, AttributeError):  # a C library without mallopt
        return
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
