"""The engine's worker threads (fast/workers.py) and their compiled waits (jit/signals.py): every part runs once,
whether the workers were watching or asleep, whether the calling thread waited by watching or asleep; errors
come back; two calling threads at once each get all their parts run; shutdown ends the threads."""
import threading
import time

import numpy as np
import pytest

from clearcnn.ops.fast import compiled, workers

pytestmark = pytest.mark.skipif(not compiled.AVAILABLE, reason="Numba is not installed")


@pytest.fixture
def signals():
    return compiled.kernels().signals


@pytest.fixture
def crew(signals):
    crew = workers.Workers(3, signals)
    yield crew
    crew.shutdown()
    assert not any(thread.is_alive() for thread in crew._threads)


def test_a_wait_sees_a_change_and_gives_up_without_one(signals):
    counts = np.array([4, 7], np.int64)
    assert signals.wait_for_change(counts, 1, 6, 10, 0)
    assert not signals.wait_for_change(counts, 1, 7, 1000, 0)
    assert not signals.wait_for_change(counts, 0, 4, 0, 0)


def test_an_answer_is_stored_before_the_wait(signals):
    counts = np.array([0, 3], np.int64)
    assert not signals.answer_and_wait(counts, 0, 5, 1, 3, 100, 0)
    np.testing.assert_array_equal(counts, [5, 3])


def test_a_wait_sees_another_threads_change(signals):
    counts = np.zeros(1, np.int64)
    timer = threading.Timer(0.05, lambda: counts.__setitem__(0, 1))
    timer.start()
    assert signals.wait_for_change(counts, 0, 0, 10**12, 0)  # would take hours without the change
    timer.join()


def cover(crew, bounds):
    seen = np.zeros(bounds[-1], int)

    def part(start, stop):
        seen[start:stop] += 1

    crew.run_parts(part, bounds)
    return seen


@pytest.mark.parametrize("bounds", [[0, 10], [0, 3, 10], [0, 1, 2, 3], [0, 2, 4, 6, 8]])
def test_each_item_runs_once_whether_the_workers_watch_or_sleep(crew, bounds):
    for _ in range(50):  # straight after each other: the workers are still watching
        np.testing.assert_array_equal(cover(crew, bounds), 1)
    time.sleep(5 * workers.SPIN_SECONDS)  # now they sleep, and are woken
    assert all(crew._asleep[:crew._count])
    np.testing.assert_array_equal(cover(crew, bounds), 1)


def test_the_calling_thread_sleeps_through_a_long_part_and_is_woken(crew):
    done = []

    def part(start, stop):
        if start:
            time.sleep(20 * workers.SPIN_SECONDS)
        done.append(start)

    crew.run_parts(part, [0, 1, 2])
    assert sorted(done) == [0, 1]


def test_errors_come_back_after_every_part_is_done(crew):
    done = []

    def part(start, stop):
        if start == 1:
            raise ValueError("part 1 failed")
        time.sleep(0.01)
        done.append(start)

    with pytest.raises(ValueError, match="part 1 failed"):
        crew.run_parts(part, [0, 1, 2, 3])
    assert sorted(done) == [0, 2]
    np.testing.assert_array_equal(cover(crew, [0, 1, 2, 3]), 1)  # and the crew works on


def test_two_calling_threads_each_get_all_their_parts_run(crew):
    failures = []

    def caller(index):
        for _ in range(200):
            seen = cover(crew, [0, 5, 9, 14, 20])
            if not (seen == 1).all():
                failures.append((index, seen))

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_more_parts_than_workers_run_on_the_calling_thread(crew):
    threads = []

    def part(start, stop):
        threads.append(threading.current_thread())

    crew.run_parts(part, list(range(6)))
    assert threads == [threading.current_thread()] * 5
