"""The engine's worker threads, which run parts of the calling thread's work (parallel.run).

A sleeping thread takes tens of microseconds to wake, several times a short part's worth of work. So a worker
that has finished a part watches for the next one for a moment (SPIN_SECONDS) before it sleeps, and the calling
thread, done with its own part, so watches for the workers' answers, as OpenMP's threads do. They watch counts
in an array with the compiled waits of jit/signals.py, which hold neither the interpreter's lock nor (with x86's
`pause`) the core's full attention. Past that moment, they sleep on a condition.

Worker i's count of parts posted to it is counts[i], of parts it has done counts[n + i]. Whoever raises a count
looks afterwards whether its watcher sleeps, and a watcher about to sleep says so before it looks at the count a
last time: the interpreter's lock orders the two, so one always sees the other. The one exception, a worker
that answers from compiled code just as the calling thread falls asleep, is why that thread sleeps in short
naps.

A thread that has seen its count change needs the interpreter's lock, and if it must sleep for the lock, it is
slow to wake. So a worker answers from compiled code, the lock already released, and one that sees a new part
pauses a few microseconds (GRACE_SECONDS) for the calling thread to go into its own part's compiled code.
"""
import threading
import time

import numpy as np

SPIN_SECONDS = 1e-3  # long enough to span the gaps between one training step's parallel calls
GRACE_SECONDS = 5e-6
_STOP = object()  # the task that ends a worker


class Workers:
    def __init__(self, count, signals):
        self._count, self._signals = count, signals
        self._counts = np.zeros(2 * count, np.int64)
        self._tasks, self._errors = [None] * count, [None] * count
        self._asleep = [False] * (count + 1)  # each worker's, then the calling thread's
        self._condition, self._in_use = threading.Condition(), threading.Lock()
        self._looks, self._grace = self._looks_in(SPIN_SECONDS), self._looks_in(GRACE_SECONDS)
        self._threads = [threading.Thread(target=self._serve, args=(i,), name=f"clearcnn-{i}", daemon=True)
                         for i in range(count)]
        for thread in self._threads:
            thread.start()

    def _looks_in(self, seconds):
        """How many looks at an unchanging count the compiled wait makes in `seconds` on this machine."""
        looks = 20_000
        self._signals.wait_for_change(self._counts, 0, 0, 1, 0)  # compiled, or loaded from the cache, first
        start = time.perf_counter()
        self._signals.wait_for_change(self._counts, 0, 0, looks, 0)
        return max(1, int(looks * seconds / max(time.perf_counter() - start, 1e-9)))

    def run_parts(self, function, bounds):
        """function(start, stop) for each pair of neighbouring bounds: the first part on this thread, the others
        on workers (at most one each). A calling thread that finds the workers busy with another's parts runs
        all its parts itself, the same parts, so that the numbers do not depend on who ran them."""
        parts = list(zip(bounds[:-1], bounds[1:]))
        if len(parts) - 1 > self._count or not self._in_use.acquire(blocking=False):
            for start, stop in parts:
                function(start, stop)
            return
        try:
            for worker, (start, stop) in enumerate(parts[1:]):
                self._tasks[worker] = (function, start, stop)
                self._counts[worker] += 1
            if True in self._asleep[:len(parts) - 1]:
                self._wake()
            try:
                function(*parts[0])
            finally:  # never return, not even with an error, while other parts still write
                self._await(len(parts) - 1)
            errors = [error for error in self._errors if error is not None]  # this call's: the workers are ours
            self._errors = [None] * self._count
        finally:
            self._in_use.release()
        if errors:
            raise errors[0]

    def _await(self, workers):
        for worker in range(workers):
            answer, posted = self._count + worker, self._counts[worker]
            if self._counts[answer] == posted or self._signals.wait_for_change(self._counts, answer, posted - 1,
                                                                                self._looks, 0):
                continue
            with self._condition:
                self._asleep[self._count] = True
                while self._counts[answer] != posted:
                    self._condition.wait(SPIN_SECONDS)
                self._asleep[self._count] = False

    def _serve(self, worker):
        answer, seen = self._count + worker, 0
        while True:
            if self._asleep[self._count]:
                self._counts[answer] = seen
                self._wake()
            if not self._signals.answer_and_wait(self._counts, answer, seen, worker, seen, self._looks, self._grace):
                with self._condition:
                    self._asleep[worker] = True
                    while self._counts[worker] == seen:
                        self._condition.wait()
                    self._asleep[worker] = False
            seen = int(self._counts[worker])
            task, self._tasks[worker] = self._tasks[worker], None
            if task is _STOP:
                return
            try:
                task[0](*task[1:])
            except BaseException as error:  # noqa: BLE001 - raised on the calling thread
                self._errors[worker] = error
            task = None  # holds the caller's arrays: let them go before waiting for the next part

    def _wake(self):
        with self._condition:
            self._condition.notify_all()

    def shutdown(self):
        for worker in range(self._count):
            self._tasks[worker] = _STOP
            self._counts[worker] += 1
        self._wake()
        for thread in self._threads:
            thread.join()
