"""Shared fixtures. `engine_backend` runs a test once with the NumPy kernels and once with the compiled ones
(when Numba is installed), so both stay held to the same oracles."""
import pytest

from clearcnn.ops import backend

BACKENDS = ["numpy", "compiled"] if backend.HAVE_NUMBA else ["numpy"]


@pytest.fixture(params=BACKENDS)
def engine_backend(request, monkeypatch):
    monkeypatch.setattr(backend, "use_compiled", request.param == "compiled")
    monkeypatch.setattr(backend, "MIN_BATCH", 1)  # the tests' small batches too
    return request.param
