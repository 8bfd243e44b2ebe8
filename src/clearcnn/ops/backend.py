"""Which kernels run: the NumPy ones, always there, or the Numba-compiled ones of compiled.py.

Numba is an optional extra (`pip install clearcnn[fast]`). It is imported on first use, not here: importing
it costs about 120 MB of memory, which a model that never needs a compiled kernel should not pay. The
NumPy code stays the reference: the tests run both and compare.
"""
import importlib.util
import warnings

HAVE_NUMBA = importlib.util.find_spec("numba") is not None
use_compiled = HAVE_NUMBA  # the tests switch this off to run the NumPy kernels

# The compiled kernels vectorise over their arrays' last axis, usually the batch; with fewer numbers there
# NumPy is faster. Measured (2 cores), one image's prediction: CIFAR-CNN 3.9 to 4.5 ms with the compiled
# kernels, 1.3 ms with NumPy; SEED-CNN 1.6 to 1.7 ms and 0.5 ms.
MIN_BATCH = 8
_module = None  # the compiled kernels, once loaded


def compiled(batch=MIN_BATCH):
    """The compiled kernels module, or None when Numba is missing or switched off, or `batch`, the length of
    the axis the kernels would vectorise over (images, or channels in winograd_nhwc), is short."""
    global use_compiled, _module
    if not use_compiled or batch < MIN_BATCH:
        return None
    if _module is None:  # a few calls per layer and image: the import statement alone would cost a microsecond
        try:
            from . import compiled as module
        except Exception as error:  # e.g. a Numba that does not match this NumPy: carry on in NumPy, and say so
            use_compiled = False
            warnings.warn(f"clearcnn: the compiled kernels could not be loaded ({type(error).__name__}: {error}); "
                          f"running the NumPy kernels instead.", RuntimeWarning, stacklevel=2)
            return None
        _module = module
    return _module
