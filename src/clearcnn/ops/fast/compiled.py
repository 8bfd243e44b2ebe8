"""The compiled kernels of jit/, loaded on first use; None where they cannot run, and NumPy runs instead.

Numba is imported when the first kernel is asked for, not before: importing it costs about 120 MB of memory,
which a model that never needs a compiled kernel should not pay. The heaviest kernels are compiled then too,
on all the engine's cores at once, when Numba's cache lacks them (jit/precompile.py).
"""
import importlib.util
import warnings
from types import SimpleNamespace

AVAILABLE = importlib.util.find_spec("numba") is not None
enabled = AVAILABLE  # False after a failed load
# The compiled kernels vectorise over their arrays' last axis, usually the batch: with fewer numbers there
# than this, NumPy's whole-array operations are quicker.
MIN_BATCH = 8
# How many processes may compile the heaviest kernels at once (jit/precompile.py); None: one per usable core.
# parallel.set_workers sets it with the engine's thread count.
compile_processes = None
_kernels = None


def kernels(length=None):
    """The kernel families (.bands, .winograd, .pool, .optimizers, .normalization, .relu, .signals), or None when
    Numba is missing or failed to load, or when `length`, the axis the kernels would vectorise over (images, or
    channels), is under MIN_BATCH."""
    global enabled, _kernels
    if not enabled or (length is not None and length < MIN_BATCH):
        return None
    if _kernels is None:
        try:
            from .jit import bands, normalization, optimizers, pool, precompile, relu, signals, winograd
            precompile.compile_heavy_kernels(compile_processes)
        except Exception as error:  # e.g. a Numba that does not match this NumPy: carry on in NumPy, and say so
            enabled = False
            warnings.warn(f"clearcnn: the compiled kernels could not be loaded ({type(error).__name__}: {error}); "
                          f"running the NumPy kernels instead.", RuntimeWarning, stacklevel=2)
            return None
        _kernels = SimpleNamespace(bands=bands, winograd=winograd, pool=pool, optimizers=optimizers,
                                   normalization=normalization, relu=relu, signals=signals)
    return _kernels
