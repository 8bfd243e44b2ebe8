"""Data-parallel training over MPI, with Keras 3's API.

    from clearcnn import distribution
    distribution.set_distribution(distribution.DataParallel())     # or: with distribution.set_distribution(...):
    model.fit(x, y, batch_size=256)                                # 256 is the global batch, over all ranks

Launched as `mpiexec -n K python -m mpi4py train.py`, each of the K processes (ranks) holds a replica of the
model. Every global batch is split into K contiguous shards; each rank computes the gradient of its shard's
summed loss divided by the global batch size, and one in-place Allreduce of all gradients, packed in one
buffer, sums them: every rank then takes the step one process would take on the whole batch. Launch through
`python -m mpi4py`, which ends every rank when one raises; without it the others would wait forever.

- Start: the weights, the optimizer's state and the random generators' state are broadcast from rank 0.
- Data: every rank reads the same batches (the same shuffle: the generators agree) and keeps its shard.
- Randomness per sample (Dropout's masks): drawn for the whole global batch on every rank, each keeping its
  shard's part, so K ranks draw exactly what one process draws.
- BatchNormalization normalises with its replica's batch statistics (per replica, as Keras and PyTorch's DDP
  do by default); its moving statistics are taken from rank 0 after every step (DDP's broadcast_buffers).
- Losses and metrics are computed from every rank's predictions, gathered: each rank reports the global
  figures, so callbacks decide the same everywhere (EarlyStopping stops every rank at once).
- Only rank 0 prints progress, saves, and runs callbacks that write files (ModelCheckpoint, CSVLogger).
"""
from contextlib import contextmanager

from ..errors import ClearCNNError
from .replicas import LOCAL, MPIReplicas

_current = None


class DataParallel:
    """Replicate the model on every rank of MPI.COMM_WORLD (or `communicator`) and split each batch among them."""

    def __init__(self, devices=None, communicator=None):
        if devices is not None:
            raise ClearCNNError(f"DataParallel: argument `devices` is not supported (the ranks of the MPI "
                                f"launch are the devices); received devices={devices!r}.")
        self.replicas = MPIReplicas(communicator)

    @property
    def rank(self):
        return self.replicas.rank

    @property
    def size(self):
        return self.replicas.size

    @contextmanager
    def scope(self):
        with set_distribution(self):
            yield self

    def __repr__(self):
        return f"DataParallel(rank={self.rank}, size={self.size})"


class set_distribution:  # noqa: N801 -- a function in Keras; a class here, so that it also works in `with`
    """Make `value` (a DataParallel, or None) the distribution that fit, evaluate and predict use. Used in a
    `with` statement, the previous one comes back at the end of the block."""

    def __init__(self, value):
        global _current
        if value is not None and not isinstance(value, DataParallel):
            raise ClearCNNError(f"set_distribution: argument `value` must be a DataParallel or None; received "
                                f"{value!r}.")
        self.previous, _current = _current, value

    def __enter__(self):
        return _current

    def __exit__(self, *error):
        global _current
        _current = self.previous


def distribution():
    """The distribution in effect, or None."""
    return _current


def replicas():
    """What the trainer splits batches and sums gradients with: the distribution's ranks, or this process alone."""
    return _current.replicas if _current is not None else LOCAL


def launched_with_several_ranks():
    """Whether an MPI launcher (MPICH, Open MPI, Intel MPI, a PMIx launcher) started this process as one of
    several, read from the environment without importing MPI."""
    import os
    for variable in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS"):
        value = os.environ.get(variable, "")
        if value.isdigit() and int(value) > 1:
            return True
    return False


__all__ = ["DataParallel", "set_distribution", "distribution", "launched_with_several_ranks"]
