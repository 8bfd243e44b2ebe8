"""The heaviest compiled kernels are compiled by several processes at once when Numba's cache lacks them
(ops/fast/jit/precompile.py): each run below is a fresh interpreter with a cache folder of its own."""
import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("numba")

# Trains one step of a network that needs every kernel in HEAVY (3x3 convolutions at a batch of 16, the
# second one's input gradient, max pooling forward and back), then reports on them.
SCRIPT = r"""
import json, sys
import numpy as np
from clearcnn.layers import Conv2D, Dense, Flatten, Input, MaxPooling2D
from clearcnn.models import Sequential
from clearcnn.ops.fast import parallel
from clearcnn.ops.fast.jit import precompile
from clearcnn.utils import set_random_seed

if len(sys.argv) > 1:
    sys.executable = sys.argv[1]  # what starts the helpers
set_random_seed(0)
before = [precompile.is_cached(kernel, types) for kernel, types in precompile.HEAVY]
model = Sequential([Input((12, 12, 2)), Conv2D(8, 3, padding="same", activation="relu"), MaxPooling2D(2),
                    Conv2D(8, 3, activation="relu"), Flatten(), Dense(3)])
model.compile("sgd", "sparse_categorical_crossentropy")
x = np.random.default_rng(0).random((16, 12, 12, 2), dtype=np.float32)
loss = model.train_on_batch(x, np.arange(16) % 3)
print(json.dumps({
    "loss": float(loss), "workers": parallel.WORKERS, "before": before,
    "after": [precompile.is_cached(kernel, types) for kernel, types in precompile.HEAVY],
    "signatures": [[str(s) for s in kernel.signatures] for kernel, _ in precompile.HEAVY],
    "expected": [str(tuple(types)) for _, types in precompile.HEAVY],
    "loaded": sum(sum(kernel.stats.cache_hits.values()) for kernel, _ in precompile.HEAVY),
    "compiled": sum(sum(kernel.stats.cache_misses.values()) for kernel, _ in precompile.HEAVY)}))
"""


def run(cache, *arguments):
    result = subprocess.run([sys.executable, "-c", SCRIPT, *arguments], capture_output=True, text=True,
                            timeout=600, env={**os.environ, "NUMBA_CACHE_DIR": str(cache)})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_a_cold_cache_is_filled_by_this_process_and_its_helpers_and_a_warm_one_is_only_read(tmp_path):
    cold = run(tmp_path)
    assert not any(cold["before"]) and all(cold["after"])
    # Each kernel ran with exactly the types HEAVY lists: a call with other types would have compiled anew.
    assert cold["signatures"] == [[expected] for expected in cold["expected"]]
    if cold["workers"] > 1:  # the helpers' share came from the cache, this process compiled the rest
        assert cold["loaded"] >= 1 and cold["compiled"] >= 1 and cold["loaded"] + cold["compiled"] == 6
    warm = run(tmp_path)
    assert all(warm["before"]) and (warm["loaded"], warm["compiled"]) == (6, 0)
    assert warm["loss"] == cold["loss"]


@pytest.mark.parametrize("helper", ["missing", "failing"])
def test_helpers_that_cannot_start_or_fail_leave_their_share_to_compile_at_first_call(tmp_path, helper):
    program = tmp_path / "python"  # what starts in the helpers' place: nothing, or a program that fails
    if helper == "failing":
        program.write_text("#!/bin/sh\nexit 1\n")
        program.chmod(0o755)
    report = run(tmp_path / "cache", str(program))
    assert (report["loaded"], report["compiled"]) == (0, 6)
    assert all(report["after"]) and report["signatures"] == [[expected] for expected in report["expected"]]
