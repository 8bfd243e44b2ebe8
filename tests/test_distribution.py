"""Data-parallel training over MPI: K ranks take the steps one process takes on the same global batches.

The multi-rank cases launch `mpiexec -n K python -m mpi4py tests/mpi_worker.py ...` and compare what every rank
wrote with the same script run alone; they skip where the `mpi` extra (mpi4py with an MPI) is not installed."""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from clearcnn import ClearCNNError, distribution
from clearcnn.distribution.replicas import Replicas

WORKER = Path(__file__).with_name("mpi_worker.py")
MPIEXEC = shutil.which("mpiexec", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
try:
    import mpi4py  # noqa: F401
except ImportError:
    mpi4py = None
needs_mpi = pytest.mark.skipif(mpi4py is None or MPIEXEC is None, reason="the mpi extra (mpi4py and an MPI) is not "
                                                                        "installed")


def launch(ranks, *arguments, timeout=120):
    """The worker under `mpiexec -n ranks`, or alone (ranks=0: no MPI at all)."""
    if ranks:
        command = [MPIEXEC, "-n", str(ranks), sys.executable, "-m", "mpi4py", str(WORKER), *map(str, arguments)]
    else:
        command = [sys.executable, str(WORKER), *map(str, arguments), "alone"]
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=environment)


def ran(ranks, *arguments):
    result = launch(ranks, *arguments)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def alone(tmp_path_factory):
    """The single-process answers, once per optimizer."""
    answers = {}
    for optimizer in ("sgd", "adam", "activity"):
        folder = tmp_path_factory.mktemp(f"alone-{optimizer}")
        ran(0, optimizer, folder)
        answers[optimizer] = folder
    return answers


def relative_difference(expected, weights):
    """The difference of two models' weights, all arrays as one vector, relative to the expected weights."""
    keys = [k for k in expected if k.startswith("arr_")]
    a, b = (np.concatenate([np.ravel(w[k]) for k in keys]).astype(np.float64) for w in (expected, weights))
    return float(np.linalg.norm(a - b) / np.linalg.norm(a))


@needs_mpi
@pytest.mark.parametrize("ranks", [2, 4])
@pytest.mark.parametrize("optimizer", ["sgd", "adam", "activity"])
def test_ranks_take_the_steps_of_one_process(alone, tmp_path, ranks, optimizer):
    """Two epochs of SEED-CNN with Dropout (batches of 12 over 60 samples; evaluation and prediction with last
    batches smaller than the ranks' count): every rank ends with the weights one process ends with, and
    reports the same loss, accuracy, history and predictions. Weights are compared by norm, all of a model's
    arrays as one vector: Adam divides by the root of tiny second moments, so a weight whose gradient is a
    rounding error of zero moves by about the learning rate either way, whatever the order of float32 sums.
    "activity": a model with activity regularizers, whose derivative is a mean over the whole batch."""
    ran(ranks, optimizer, tmp_path)
    expected = dict(np.load(alone[optimizer] / "rank0.npz"))
    expected_logs = json.loads((alone[optimizer] / "rank0.json").read_text())
    for rank in range(ranks):
        weights = np.load(tmp_path / f"rank{rank}.npz")
        assert relative_difference(expected, weights) < 1e-5, rank
        if "predictions" in expected:
            np.testing.assert_allclose(weights["predictions"], expected["predictions"], rtol=1e-5, atol=1e-7)
        logs = json.loads((tmp_path / f"rank{rank}.json").read_text())
        np.testing.assert_allclose(logs["evaluate"], expected_logs["evaluate"], rtol=1e-5)
        for name, values in expected_logs["history"].items():
            np.testing.assert_allclose(logs["history"][name], values, rtol=1e-5)


@needs_mpi
def test_rank_zero_alone_prints_and_writes_and_a_checkpoint_resumes_on_other_ranks(tmp_path):
    result = ran(2, "checkpoint", tmp_path)
    assert result.stdout.count("Epoch 1/3") == 1, result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["final.clearcnn", "m-1.clearcnn", "m-2.clearcnn",
                                                          "m-3.clearcnn"]
    ran(0, "resume", tmp_path)  # the 2 ranks' checkpoint, trained on alone
    resumed_alone = dict(np.load(tmp_path / "resumed0.npz"))  # read before rank 0 of 4 writes it again
    ran(4, "resume", tmp_path)  # and by 4 ranks
    for rank in range(4):
        assert relative_difference(resumed_alone, np.load(tmp_path / f"resumed{rank}.npz")) < 1e-5, rank


@needs_mpi
def test_a_rank_that_raises_ends_every_rank(tmp_path):
    start = time.monotonic()
    result = launch(2, "fault", tmp_path, timeout=60)
    assert time.monotonic() - start < 30
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert output.count("RuntimeError: rank 1 fails in epoch 2") == 1, output


@needs_mpi
def test_a_global_batch_not_divisible_by_the_ranks_is_refused(tmp_path):
    ran(2, "indivisible", tmp_path)
    for rank in range(2):
        message = (tmp_path / f"error{rank}.txt").read_text()
        assert message.startswith("ClearCNNError") and "divisible by the number of ranks, 2" in message, message


@needs_mpi
def test_the_command_line_trains_data_parallel_under_mpiexec(tmp_path):
    from PIL import Image
    rng = np.random.default_rng(0)
    for label in ("cats", "dogs"):
        (tmp_path / "photos" / label).mkdir(parents=True)
        for index in range(8):
            pixels = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "photos" / label / f"{index}.png")
    clearcnn = [sys.executable, "-m", "mpi4py", "-m", "clearcnn"]
    result = subprocess.run([MPIEXEC, "-n", "2", *clearcnn, "train", "--data", str(tmp_path / "photos"), "--model",
                             "seed", "--image-size", "32", "--epochs", "2", "--batch-size", "4", "-o",
                             str(tmp_path / "m.clearcnn")], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("Saved the model") == 1 and result.stdout.count("Epoch 2/2") == 1, result.stdout
    assert (tmp_path / "m.clearcnn").exists()


# --- without MPI ------------------------------------------------------------------------------------------


class FakeRanks(Replicas):
    def __init__(self, rank, size):
        self.rank, self.size = rank, size


@pytest.mark.parametrize("count", [0, 1, 3, 7, 12, 13])
@pytest.mark.parametrize("size", [1, 2, 4])
def test_shards_cover_a_batch_once_in_order(count, size):
    parts = [FakeRanks(rank, size).shard(count) for rank in range(size)]
    assert np.array_equal(np.concatenate([np.arange(count)[p] for p in parts]), np.arange(count))
    assert np.array_equal([p.stop - p.start for p in parts], [len(a) for a in np.array_split(np.arange(count), size)])


def test_without_mpi4py_data_parallel_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # import mpi4py now raises ImportError
    with pytest.raises(ClearCNNError, match=r'pip install "clearcnn\[mpi\]"'):
        distribution.DataParallel()


def test_set_distribution_in_a_with_block_restores_the_previous_one():
    assert distribution.distribution() is None
    with pytest.raises(ClearCNNError, match="DataParallel or None"):
        distribution.set_distribution("all")
    with distribution.set_distribution(None):
        assert distribution.distribution() is None
    assert distribution.replicas().size == 1 and distribution.replicas().is_writer
