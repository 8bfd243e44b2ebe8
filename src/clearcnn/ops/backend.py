"""Which kernels run: the NumPy ones, always there, or the Numba-compiled ones of compiled.py.

Numba is an optional extra (`pip install clearcnn[fast]`). It is imported on first use, not here: importing
it costs about 120 MB of memory, which a model that never needs a compiled kernel should not pay. The
NumPy code stays the reference: the tests run both and compare.
"""
import importlib.util

HAVE_NUMBA = importlib.util.find_spec("numba") is not None
use_compiled = HAVE_NUMBA  # the tests switch this off to run the NumPy kernels

# The compiled kernels vectorise over the batch axis; for a few images NumPy is faster. Measured (2 cores):
# one image took 5.7 ms to predict on CIFAR-CNN with Winograd and 2.1 ms without, and 1.9 ms on SEED-CNN
# with the compiled max pooling and 0.9 ms without.
MIN_BATCH = 8


def compiled(batch=MIN_BATCH):
    """The compiled kernels module, or None when Numba is missing or switched off, or the batch is small."""
    if not use_compiled or batch < MIN_BATCH:
        return None
    from . import compiled as module
    return module
