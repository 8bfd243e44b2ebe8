"""Scratch arrays kept from one call to the next.

A fresh 60 MB im2col buffer costs more to allocate than to fill: above glibc's mmap threshold every
allocation maps new pages, and the kernel hands them over one page fault at a time. So each layer keeps
a Workspace, and the ops fill its arrays with `out=` instead of allocating. A Workspace's arrays are
overwritten by the next call: only scratch space and caches for the backward pass live there, never a
value handed to the caller.

Two kinds: a layer's own Workspace holds what its backward pass needs from its forward pass (the im2col
columns, the Winograd tiles), one set of buffers per calling thread, so that threads predicting with one
model at once never write into each other's arrays. Scratch space that no longer matters once an op returns lives in `scratch()`,
one Workspace per thread shared by every layer, so a deep model pays for its largest scratch array once
rather than once per layer.

A layer's Workspace also keeps results computed from its weights alone (`reuse`), such as the Winograd
transform of the kernel, for as long as the weights stay the same.
"""
import math
import threading

import numpy as np


class Workspace:
    def __init__(self):
        self._per_thread = threading.local()
        self._results = {}

    def get(self, name, shape, dtype):
        """An uninitialised array of this shape and dtype, this thread's own. Each name keeps one buffer,
        grown when too small, so a name asked for in several shapes (a scratch array used by several steps)
        still costs one allocation."""
        size = math.prod(shape)
        buffers = self._per_thread.__dict__.setdefault("buffers", {})
        buffer = buffers.get(name)
        if buffer is None or buffer.size < size or buffer.dtype != dtype:
            buffer = buffers[name] = np.empty(size, dtype)
        return buffer[:size].reshape(shape)

    def reuse(self, name, compute, source):
        """compute(source), kept and returned again while `source` holds the same numbers: for what depends
        only on the weights, which predictions do not change. Comparing by value, not by identity, because
        weights are arrays that anyone may write into. Entries are replaced whole, never changed, so threads
        may share them."""
        kept = self._results.get(name)
        if kept is not None and kept[0].dtype == source.dtype and kept[0].shape == source.shape \
                and (kept[0] == source).all():
            return kept[1]
        result = compute(source)
        self._results[name] = (source.copy(), result)
        return result


class NoWorkspace:
    """What ops use when the caller keeps no workspace (None): fresh arrays every time."""

    @staticmethod
    def get(name, shape, dtype):
        return np.empty(shape, dtype)

    @staticmethod
    def reuse(name, compute, source):
        return compute(source)


_per_thread = threading.local()


def scratch():
    """This thread's shared scratch Workspace: valid only until the next op call."""
    if not hasattr(_per_thread, "workspace"):
        _per_thread.workspace = Workspace()
    return _per_thread.workspace
