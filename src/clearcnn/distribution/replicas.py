"""The trainer's view of the processes that share a training run: this process alone (LOCAL), or the ranks of an
MPI communicator (MPIReplicas). The trainer calls the same methods either way; alone, they change nothing."""
import json
import os
from contextlib import contextmanager

import numpy as np

from ..errors import ClearCNNError


class Replicas:
    """One process: the whole batch is its shard, and there is nothing to sum, gather or broadcast."""

    rank, size = 0, 1

    @property
    def is_writer(self):
        """Whether this process prints progress and writes files: rank 0."""
        return self.rank == 0

    def check_batch_size(self, batch_size):
        pass

    def shard(self, count):
        """The part of a global batch of `count` samples that this rank computes: contiguous parts, the first
        count % size ranks one sample more, as np.array_split makes them."""
        base, extra = divmod(count, self.size)
        start = self.rank * base + min(self.rank, extra)
        return slice(start, start + base + (self.rank < extra))

    def gather(self, part, count):
        """Every rank's `part` (rows of this rank's shard), in rank order: the rows of the whole batch."""
        return part

    def sum_gradients(self, weights):
        pass

    def start(self, model):
        pass

    def share_state(self, model):
        pass

    @contextmanager
    def sharded_random(self, layers, count, part):
        yield


LOCAL = Replicas()


class MPIReplicas(Replicas):
    """The ranks of an MPI communicator (MPI.COMM_WORLD unless given), through mpi4py's buffer interface: no
    pickled objects cross between ranks."""

    def __init__(self, communicator=None):
        try:
            from mpi4py import MPI
        except ImportError:
            raise ClearCNNError('DataParallel needs mpi4py and an MPI library: pip install "clearcnn[mpi]" '
                                '(mpi4py with the MPICH wheel), then launch with mpiexec -n K python -m mpi4py '
                                '...') from None
        self.MPI = MPI
        self.comm = communicator if communicator is not None else MPI.COMM_WORLD
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self._buffer = None
        on_this_machine = self.comm.Split_type(MPI.COMM_TYPE_SHARED).Get_size()
        if on_this_machine > 1:  # ranks that share a machine share its cores
            from .. import ops
            cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
            ops.set_num_threads(max(1, cores // on_this_machine))

    def check_batch_size(self, batch_size):
        if batch_size is not None and batch_size % self.size:
            raise ClearCNNError(f"DataParallel: the global batch_size must be divisible by the number of ranks, "
                                f"{self.size}; received batch_size={batch_size}. Each rank computes batch_size / "
                                f"{self.size} samples of every batch.")

    def _counts(self, count):
        base, extra = divmod(count, self.size)
        return [base + (rank < extra) for rank in range(self.size)]

    def gather(self, part, count):
        part = np.ascontiguousarray(part)
        row = int(np.prod(part.shape[1:], dtype=np.int64))
        whole = np.empty((count, *part.shape[1:]), part.dtype)
        sizes = [n * row * part.itemsize for n in self._counts(count)]
        offsets = np.cumsum([0] + sizes[:-1]).tolist()
        self.comm.Allgatherv([part.view(np.uint8).reshape(-1), self.MPI.BYTE],
                             [whole.view(np.uint8).reshape(-1), (sizes, offsets), self.MPI.BYTE])
        return whole

    def sum_gradients(self, weights):
        """Every weight's .grad summed over the ranks, in place: one Allreduce of one contiguous buffer."""
        sizes = [w.grad.size for w in weights]
        dtype = np.result_type(*(w.grad.dtype for w in weights))
        if self._buffer is None or self._buffer.size != sum(sizes) or self._buffer.dtype != dtype:
            self._buffer = np.empty(sum(sizes), dtype)
        views = np.split(self._buffer, np.cumsum(sizes)[:-1])
        for view, weight in zip(views, weights):
            np.copyto(view.reshape(weight.grad.shape), weight.grad)
        self.comm.Allreduce(self.MPI.IN_PLACE, self._buffer, op=self.MPI.SUM)
        for view, weight in zip(views, weights):
            np.copyto(weight.grad, view.reshape(weight.grad.shape))

    def _broadcast_arrays(self, arrays):
        """Rank 0's values of `arrays` (same shapes on every rank), copied into them in place."""
        for array in arrays:
            if array.flags.c_contiguous or array.flags.f_contiguous:
                self.comm.Bcast(array.reshape(-1, order="A"), root=0)
            else:
                copy = np.ascontiguousarray(array)
                self.comm.Bcast(copy, root=0)
                array[...] = copy

    def _broadcast_json(self, value):
        data = np.frombuffer(json.dumps(value).encode(), np.uint8) if self.rank == 0 else None
        length = np.array([0 if data is None else data.size], np.int64)
        self.comm.Bcast(length, root=0)
        data = data.copy() if data is not None else np.empty(int(length[0]), np.uint8)
        self.comm.Bcast(data, root=0)
        return json.loads(data.tobytes())

    def start(self, model):
        """Every rank from rank 0's state: the weights, the optimizer's step and slots, the random generators."""
        optimizer = getattr(model, "optimizer", None)
        iterations, slots = optimizer.get_state() if optimizer is not None else (0, [])
        shared = self._broadcast_json({"iterations": iterations, "slots": [list(s.shape) for s in slots],
                                       "random": _generator_states(model)})
        if optimizer is not None:
            if [list(s.shape) for s in slots] != shared["slots"]:  # a rank that has not stepped yet builds its slots
                optimizer.set_state(model.trainable_weights, 0, [np.zeros(shape, np.float32) for shape in shared["slots"]])
                slots = optimizer.get_state()[1]
            optimizer.iterations = shared["iterations"]
        self._broadcast_arrays([w.value for w in model.weights] + list(slots))
        for generator, state in zip(_generators(model), shared["random"]):
            generator.bit_generator.state = state

    def share_state(self, model):
        """Non-trainable weights (moving statistics) from rank 0, so that the replicas stay identical."""
        fixed = [w.value for w in model.weights if not w.trainable]
        if fixed:
            self._broadcast_arrays(fixed)

    @contextmanager
    def sharded_random(self, layers, count, part):
        """While the block runs, the layers' generators draw per-sample values for all `count` samples of the
        global batch and hand this rank the samples of `part`: the draws one process would make."""
        saved = [(layer, layer.rng) for layer in layers if getattr(layer, "rng", None) is not None]
        for layer, generator in saved:
            layer.rng = ShardedGenerator(generator, count, part)
        try:
            yield
        finally:
            for layer, generator in saved:
                layer.rng = generator


class ShardedGenerator:
    """A numpy Generator seen by one rank: a draw whose last axis is the batch (the engine keeps the batch
    innermost) is made for the whole global batch, and this rank's part of that axis is returned."""

    def __init__(self, generator, count, part):
        self.generator, self.count, self.part = generator, count, part

    def _draw(self, method, size, *args, **kwargs):
        if size is None:
            return getattr(self.generator, method)(*args, **kwargs)
        size = (size,) if np.isscalar(size) else tuple(size)
        if not size or size[-1] != self.part.stop - self.part.start:
            raise ClearCNNError(f"DataParallel: a layer drew random values of shape {size}, whose last axis is not "
                                f"the batch ({self.part.stop - self.part.start} samples on this rank).")
        return getattr(self.generator, method)(*args, size=(*size[:-1], self.count), **kwargs)[..., self.part]

    def random(self, size=None, dtype=np.float64):
        return self._draw("random", size, dtype=dtype)

    def uniform(self, low=0.0, high=1.0, size=None):
        return self._draw("uniform", size, low, high)

    def normal(self, loc=0.0, scale=1.0, size=None):
        return self._draw("normal", size, loc, scale)

    def standard_normal(self, size=None, dtype=np.float64):
        return self._draw("standard_normal", size, dtype=dtype)

    def integers(self, low, high=None, size=None, dtype=np.int64, endpoint=False):
        return self._draw("integers", size, low, high, dtype=dtype, endpoint=endpoint)

    def __getattr__(self, name):  # draws without a batch axis (a seed, a permutation) are the same everywhere
        return getattr(self.generator, name)


def _generators(model):
    """The distinct random generators of the model and its layers, in a fixed order."""
    found = []
    for generator in [getattr(model, "rng", None)] + [getattr(layer, "rng", None) for layer in model.layers]:
        if generator is not None and all(generator is not g for g in found):
            found.append(generator)
    return found


def _generator_states(model):
    return [generator.bit_generator.state for generator in _generators(model)]
