"""Shared fixtures. `engine_backend` runs a test once with the reference backend and once with the fast one
(with its compiled kernels when Numba is installed), so both stay held to the same oracles."""
import pytest

from clearcnn import ops
from clearcnn.ops.fast import compiled

BACKENDS = ["reference", "fast"]


@pytest.fixture(params=BACKENDS)
def engine_backend(request, monkeypatch):
    before = ops.get_backend()
    ops.set_backend(request.param)
    monkeypatch.setattr(compiled, "MIN_BATCH", 1)  # the compiled kernels on the tests' small batches too
    yield request.param
    ops.set_backend(before)
