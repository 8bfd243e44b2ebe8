"""The heaviest kernels compiled on several cores at once, the first time they are needed.

Numba compiles a kernel at its first call, on the calling thread, and keeps it in its disk cache, from which
later runs load it. Winograd's four transforms and max pooling's two passes take most of a first run's compile
time, one after the other, while the other cores wait. So when the cache lacks some of them, they are shared
out: this process compiles one share, helper processes (fresh interpreters that import only the kernels, run
as `python -m clearcnn.ops.fast.jit.precompile K ...`) compile the others and write them to the cache, and this
process loads those from there at their first call. Anything that goes wrong (a cache Numba cannot tell us
about, a helper that cannot start or fails) leaves those kernels to compile at their first call, as before.
"""
import os
import subprocess
import sys
from pathlib import Path

from numba import types

from . import pool, winograd

_F32, _I32, _I64 = types.float32, types.int32, types.int64


def _array(ndim, dtype=_F32):
    return types.Array(dtype, ndim, "C")


# The float32 calls the engine makes (argument types exactly as a call passes them, or the call compiles them
# again), heaviest first so that the shares come out even.
HEAVY = (
    (winograd.output_tiles_adjoint, (_array(4), _array(4), types.boolean, _I64, _array(5), _array(1), _I64, _I64)),
    (winograd.input_tiles_adjoint, (_array(6), _I64, _I64, _array(4), _I64, _I64)),
    (winograd.input_tiles, (_array(4), _I64, _I64, _I64, _I64, _array(5), _I64, _I64)),
    (winograd.output_tiles, (_array(5), _array(1), types.boolean, _I64, _array(4), _I64, _I64)),
    (pool.max_pool_adjoint, (_array(4), _array(4, _I32), _array(1, _I64), _array(1, _I64), types.UniTuple(_I64, 2),
                             _array(4), _I64, _I64)),
    (pool.max_pool, (_array(4), _array(1, _I64), _array(1, _I64), types.UniTuple(_I64, 2), _array(4),
                     _array(4, _I32), _I64, _I64)),
)
PACKAGE_ROOT = str(Path(__file__).resolve().parents[4])  # the folder holding the clearcnn package
HELPER_SECONDS = 300  # a share compiles in seconds; a helper still busy after this is stopped


def is_cached(kernel, argument_types):
    """Whether Numba's disk cache holds `kernel` compiled for these argument types on this machine. It reads
    Numba's cache index through Numba's own private methods: callers treat any exception as "cannot tell"."""
    cache = kernel._cache
    key = cache._index_key(argument_types, kernel.targetctx.codegen())
    return key in cache._cache_file._load_index()


def compile_share(indices):
    for index in indices:
        kernel, argument_types = HEAVY[index]
        kernel.compile(argument_types)


def compile_heavy_kernels(processes=None):
    """Compile the HEAVY kernels the cache lacks over `processes` processes (default: one per usable core),
    this one included. Where the cache is warm, or sharing cannot help, nothing is done here."""
    if processes is None:
        processes = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        missing = [index for index, (kernel, argument_types) in enumerate(HEAVY)
                   if not is_cached(kernel, argument_types)]
    except Exception:  # a Numba whose cache is laid out otherwise: each kernel compiles at its first call
        return
    processes = min(processes, len(missing))
    if processes < 2:
        return
    shares = [missing[first::processes] for first in range(processes)]
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, (PACKAGE_ROOT,
                                                                            os.environ.get("PYTHONPATH")))))
    helpers = []
    for share in shares[1:]:
        try:
            helpers.append(subprocess.Popen([sys.executable, "-m", __name__, *map(str, share)], env=environment,
                                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL))
        except OSError:  # no interpreter to start: this share compiles at its first call
            pass
    try:
        compile_share(shares[0])
    finally:
        for helper in helpers:
            try:
                helper.wait(HELPER_SECONDS)
            except subprocess.TimeoutExpired:  # stuck: what it has not cached compiles at first call
                helper.kill()
                helper.wait()


if __name__ == "__main__":
    compile_share(int(argument) for argument in sys.argv[1:])
