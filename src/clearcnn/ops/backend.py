"""Which backend computes the ops: `set_backend(name)`, the one place where the choice is made.

A backend is a module with every name of KERNELS. "reference" (reference/) is plain NumPy, the one a reader
studies and the tests hold the others to; "fast" (fast/) computes the same numbers sooner. The chosen
backend's functions are bound into the `clearcnn.ops` namespace, so callers write `ops.conv2d_forward(...)`
and never name a backend. The default is "fast" (which warns, once, and runs NumPy code where Numba cannot be
imported); the environment variable CLEARCNN_BACKEND overrides it. A GPU backend would be a third sibling,
registered in BACKENDS.
"""
import importlib
import os
import sys
import warnings

from ..errors import ClearCNNError

BACKENDS = {"reference": "clearcnn.ops.reference", "fast": "clearcnn.ops.fast"}
KERNELS = ("conv2d_forward", "conv2d_backward", "max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward",
           "avg_pool2d_backward", "dense_forward", "dense_backward", "dense_kernel_storage", "flatten_forward",
           "flatten_backward", "dropout_forward", "dropout_backward", "sgd_step", "adam_step", "rmsprop_step",
           "batch_scope", "new_workspace", "batch_norm_forward", "batch_norm_backward", "moving_average",
           "global_avg_pool2d_forward", "global_avg_pool2d_backward", "global_max_pool2d_forward",
           "global_max_pool2d_backward", "affine_forward", "affine_backward", "resize_forward", "resize_backward",
           "flip_forward", "crop_forward", "crop_backward", "contrast_forward", "contrast_backward",
           "brightness_forward", "brightness_backward")
_current = None
_warned = False  # about a fast backend without Numba


def set_backend(name):
    """Compute every op with backend `name` ("reference" or "fast") from now on, in every thread. "fast"
    without Numba warns once and keeps its NumPy code paths."""
    global _current, _warned
    if name not in BACKENDS:
        raise ClearCNNError(f"set_backend: argument `name` must be one of {', '.join(BACKENDS)}; "
                            f"received name={name!r}.")
    module = importlib.import_module(BACKENDS[name])
    if name == "fast" and not module.compiled.AVAILABLE and not _warned:
        _warned = True
        warnings.warn("clearcnn: the fast backend runs without its compiled kernels: Numba is not installed "
                      "(pip install numba).", RuntimeWarning, stacklevel=2)
    ops = sys.modules[__package__]
    for kernel in KERNELS:
        setattr(ops, kernel, getattr(module, kernel))
    _current = name


def get_backend():
    """The name of the backend computing the ops."""
    return _current


def set_num_threads(count):
    """Compute on `count` threads from now on (BLAS, and the fast backend's pool), for a process that shares
    its machine with others, such as one rank of several."""
    from .fast import parallel
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ClearCNNError(f"set_num_threads: argument `count` must be a positive integer; received count={count!r}.")
    parallel.set_workers(count)


def describe():
    """One line on what computes the ops: the backend, and for "fast" whether its compiled kernels run (which
    loads them), for which CPU, and on how many threads."""
    if _current != "fast":
        return f"backend {_current} (NumPy)"
    from .fast import compiled, parallel
    threads = parallel.WORKERS if parallel.available() else 1
    if compiled.kernels() is None:
        return f"backend fast, compiled kernels off (NumPy), {threads} threads"
    import llvmlite.binding
    import numba
    target = os.environ.get("NUMBA_CPU_NAME") or llvmlite.binding.get_host_cpu_name()
    return f"backend fast, compiled kernels on (Numba {numba.__version__}, target {target}), {threads} threads"


def default_backend():
    return os.environ.get("CLEARCNN_BACKEND") or "fast"
