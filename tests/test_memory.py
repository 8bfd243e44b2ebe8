"""The fast backend keeps freed memory for the next step (ops/fast/memory.py): an array allocated again after
being freed costs no new page faults."""
import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="tunes glibc's malloc")

CYCLES = 5
PAGES = 3 * (16 << 20) // 4096  # three 16 MB arrays: above glibc's default trim threshold together, each below
# the highest mmap threshold it accepts

FAULTS_PER_CYCLE = """
import resource
import numpy as np
from clearcnn.ops.fast.memory import keep_freed_memory
keep_freed_memory()
faults = []
for _ in range({cycles} + 1):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    arrays = [np.ones(16 << 20, np.uint8) for _ in range(3)]  # written in full, then freed together
    del arrays
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(sum(faults[1:]) / {cycles})
""".format(cycles=CYCLES)


def faults_per_cycle(**environment):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_TUNABLES"))}
    result = subprocess.run([sys.executable, "-c", FAULTS_PER_CYCLE], env={**env, **environment},
                            capture_output=True, text=True, check=True)
    return float(result.stdout)


def test_a_freed_array_is_reused_without_page_faults():
    assert faults_per_cycle() < PAGES / 100


def test_a_user_setting_of_mallocs_environment_is_left_alone():
    """And without the thresholds, each cycle maps part of the arrays anew: what the first test would catch."""
    assert faults_per_cycle(MALLOC_ARENA_MAX="4") > PAGES / 100
