"""Shared fixtures. `engine_backend` runs a test once with the reference backend and once with the fast one
(with its compiled kernels when Numba is installed), so both stay held to the same oracles."""
import pytest
from hypothesis import HealthCheck, settings

from clearcnn import ops
from clearcnn.ops.fast import compiled

BACKENDS = ["reference", "fast"]

# Property-based tests of the file readers: a few hundred cases each in the default run, many more with
# `pytest --hypothesis-profile long`.
settings.register_profile("default", max_examples=200, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.register_profile("long", parent=settings.get_profile("default"), max_examples=5000)
settings.load_profile("default")


@pytest.fixture(params=BACKENDS)
def engine_backend(request, monkeypatch):
    before = ops.get_backend()
    ops.set_backend(request.param)
    monkeypatch.setattr(compiled, "MIN_BATCH", 1)  # the compiled kernels on the tests' small batches too
    yield request.param
    ops.set_backend(before)
