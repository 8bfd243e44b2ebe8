"""The engine's threads: one pool of its own, with BLAS held to one thread while the engine runs.

Why one pool: on a machine with few cores, two thread pools fight. OpenBLAS's workers spin for a while after
each matrix product, waiting for the next one, and so would Numba's own workers (parallel=True, OpenMP);
each steals the cores the other needs. So inside `engine_threads()` BLAS runs single-threaded, and the engine
splits its heavy steps, matrix products included, over this pool, whose idle threads sleep
(after a moment's watch for more work: workers.py).

It needs threadpoolctl to set BLAS's thread count, and it runs only together with the compiled kernels
(compiled.py): the NumPy kernels' many short passes gain nothing from it. Otherwise, and outside
`engine_threads()`, everything runs on the calling thread and BLAS uses its own threads, as plain NumPy does.
"""
import os
import threading
from contextlib import contextmanager

import numpy as np

from . import compiled
from .memory import keep_freed_memory
from .workers import Workers

try:
    from threadpoolctl import ThreadpoolController
except ImportError:  # an optional extra
    ThreadpoolController = None

WORKERS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


# Handing a part to a watching worker costs some microseconds (workers.py), so parts are kept at some tens of
# microseconds of work at least.
MIN_PART_FLOPS = 5e6
MIN_PART_ITEMS = 5e4  # numbers read or written, for element-wise kernels
MIN_BATCH = 8  # a few images' layers are too short to split

_state = threading.local()  # .active: inside engine_threads() on this thread
_lock = threading.Lock()
_pool, _blas_libraries, _blas_counts = None, [], []
_threads_inside = 0  # calling threads inside engine_threads(): the first one in sets BLAS to one thread, the last
# one out gives it back its own counts


def _forget_pool_after_fork():
    """A forked child inherits the pool object but not its threads, and work handed to it would wait
    forever: the child starts its own pool when it first needs one."""
    global _pool, _blas_libraries, _blas_counts, _threads_inside, _lock, _state
    _pool, _blas_libraries, _blas_counts, _threads_inside = None, [], [], 0
    _lock, _state = threading.Lock(), threading.local()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_after_fork)


@contextmanager
def engine_threads(batch=MIN_BATCH):
    """Run the engine on its own pool, BLAS on one thread, for the duration of the block, for batches of at
    least MIN_BATCH; smaller ones run as plain NumPy does. Nested blocks join the outer one."""
    global _pool, _blas_libraries, _blas_counts, _threads_inside
    keep_freed_memory()
    if (batch < MIN_BATCH or not available() or getattr(_state, "active", False)
            or (kernels := compiled.kernels()) is None):
        yield
        return
    with _lock:  # BLAS's thread count is one setting for the process, shared by every calling thread
        if _pool is None:
            _blas_libraries = ThreadpoolController().select(user_api="blas").lib_controllers
            _blas_counts = [library.get_num_threads() for library in _blas_libraries]
            _pool = Workers(WORKERS - 1, kernels.signals)
        if _threads_inside == 0:
            _set_blas_threads([1] * len(_blas_libraries))
        _threads_inside += 1
    _state.active = True
    try:
        yield
    finally:
        _state.active = False
        with _lock:
            _threads_inside -= 1
            if _threads_inside == 0:
                _set_blas_threads(_blas_counts)


def available():
    return ThreadpoolController is not None and WORKERS > 1


def set_workers(count):
    """Run on `count` threads from now on, the engine's pool and BLAS alike: for a process that shares its
    machine with others (one rank of several)."""
    global WORKERS, _pool, _blas_libraries, _blas_counts
    with _lock:
        if _threads_inside:
            raise RuntimeError("set_workers: the engine's threads are busy")
        if _pool is not None:
            _pool.shutdown()
        _pool, WORKERS = None, count
        compiled.compile_processes = count
        if ThreadpoolController is not None:
            _blas_libraries = ThreadpoolController().select(user_api="blas").lib_controllers
            _set_blas_threads([count] * len(_blas_libraries))


def _set_blas_threads(counts):
    """Set each BLAS library's thread count. threadpoolctl lets only the first thread that changed a pthreads
    OpenBLAS change it again, and ignores the others; the engine serialises its changes under _lock, so it
    asks for the library's own setter where threadpoolctl has one."""
    for library, count in zip(_blas_libraries, counts):
        getattr(library, "_real_set_num_threads", library.set_num_threads)(count)


def active():
    """True inside engine_threads() on this thread (not on the pool's own threads: no nested splitting)."""
    return getattr(_state, "active", False)


def run(function, count, grain=1):
    """Call function(start, stop) on parts of range(count), the parts in parallel inside engine_threads();
    no part smaller than `grain` items. The calling thread does the first part itself."""
    parts = min(WORKERS, int(count // max(grain, 1))) if active() else 1
    if parts <= 1:
        function(0, count)
        return
    _pool.run_parts(function, [count * i // parts for i in range(parts + 1)])


def run_over_channels(function, array, passes=1):
    """run() over the leading (channel) axis of `array`, in parts of at least MIN_PART_ITEMS numbers read or
    written; `passes`: how many times the work goes over each number."""
    run(function, array.shape[0], grain=MIN_PART_ITEMS * array.shape[0] / max(array.size * passes, 1))


def part_grain(flops, numbers):
    """The fewest units of work per part, for units of `flops` each that read or write `numbers` numbers of
    their own: a part is worth handing over when it has MIN_PART_FLOPS of arithmetic or MIN_PART_ITEMS of
    memory traffic. A product of a few columns (a small batch's dense layer) is bound by reading its matrix,
    not by its arithmetic, and gains from two cores' memory bandwidth all the same."""
    return min(MIN_PART_FLOPS / max(flops, 1.0), MIN_PART_ITEMS / max(numbers, 1))


def matmul(a, b, out=None):
    """a @ b for two 2-D matrices or two stacks of them (S, ., .), split over the stack, or else over the
    longer of a's rows and b's columns, in parts worth handing over (part_grain)."""
    if not active():  # one thread: BLAS's own, as plain NumPy (the checks below cost more than small products)
        return np.matmul(a, b, out=out)
    if out is None:
        out = np.empty(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1]),
                       np.result_type(a, b))
    (m, k), n = a.shape[-2:], b.shape[-1]
    if a.ndim == 3:
        run(lambda start, stop: np.matmul(a[start:stop], b[start:stop], out=out[start:stop]), a.shape[0],
            grain=part_grain(2.0 * m * k * n, m * k + k * n + m * n))
    elif n >= m and n >= 2 * (grain := part_grain(2.0 * m * k, k + m)):
        run(lambda start, stop: np.matmul(a, b[:, start:stop], out=out[:, start:stop]), n, grain=grain)
    elif m > n and m >= 2 * (grain := part_grain(2.0 * k * n, k + n)):
        run(lambda start, stop: np.matmul(a[start:stop], b, out=out[start:stop]), m, grain=grain)
    elif k >= 2 * (grain := part_grain(2.0 * m * n, m + n)):
        _matmul_over_depth(a, b, out, grain)
    else:
        np.matmul(a, b, out=out)
    return out


def _matmul_over_depth(a, b, out, grain):
    """a @ b as the sum of the products of parts of the axis they share: for a small result of a long sum (a
    convolution's kernel gradient, summed over every position of every image), which splits no other way."""
    partials = {}
    run(lambda start, stop: partials.__setitem__(start, np.matmul(a[:, start:stop], b[start:stop])), a.shape[1],
        grain=grain)
    np.copyto(out, added_in_order(partials))


def added_in_order(parts):
    """The sum of what threads computed in parts, keyed by where each part starts: added in that order, not in
    the order the threads finished, so that a given number of threads always gives the same numbers."""
    ordered = [parts[start] for start in sorted(parts)]
    return sum(ordered[1:], ordered[0])
