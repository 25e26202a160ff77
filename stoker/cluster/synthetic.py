"""A training job with a simulated accelerator and real CPU data work, for the live controller on Ray.

The accelerator step is a sleep (there is no GPU here). Each batch is a Ray task holding one CPU that
burns ``work_s`` of real CPU time (decode, augment) and then waits ``io_s`` (reading from storage, which
a real loader also waits on); the job keeps at most ``budget`` of them in flight (its data workers). So
its throughput is about ``min(1 / step_s, budget / (work_s + io_s))``, which the controller measures and
learns from. The I/O part is what lets a shared 2-core test machine show the effect of a second worker:
with CPU work alone, extra workers there only compete for the same cores. It implements the controller's
:class:`~stoker.cluster.controller.JobHandle` (``report``/``set_budget``) as Ray actor methods.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from stoker.cluster.controller import JobReport


def make_batch(work_s: float, io_s: float = 0.0) -> int:
    """Spins for ``work_s`` seconds of this process's CPU time (contention slows it), then waits ``io_s``."""
    start = time.process_time()
    n = 0
    while time.process_time() - start < work_s:
        n += sum(i * i for i in range(200))
    if io_s > 0:
        time.sleep(io_s)
    return n


class SyntheticJob:
    """Body of the job actor; create with :func:`start_job`.

    Args:
        name: Job name.
        node: Node the trainer runs on (for the controller's records).
        step_s: Simulated accelerator step, seconds.
        work_s: CPU seconds of data work per batch.
        io_s: Seconds each batch waits on (simulated) storage after its CPU work.
        budget: Initial data-worker budget.
    """

    def __init__(self, name: str, node: str, step_s: float, work_s: float, io_s: float = 0.0, budget: int = 1) -> None:
        import ray

        self.name, self.node, self.step_s, self.work_s, self.io_s = name, node, step_s, work_s, io_s
        self.budget = max(1, budget)
        self._task: Any = ray.remote(num_cpus=1)(make_batch)
        self._lock = threading.Lock()
        self._steps = 0
        self._wait = 0.0
        self._since = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._train, daemon=True)
        self._thread.start()

    def _train(self) -> None:
        import ray

        in_flight: list[Any] = []
        while not self._stop.is_set():
            t0 = time.monotonic()
            if not in_flight:
                in_flight.append(self._task.remote(self.work_s, self.io_s))
            _, in_flight = ray.wait(in_flight, num_returns=1)
            waited = time.monotonic() - t0
            with self._lock:
                budget = self.budget
            # Refill before the step so data work overlaps it (prefetch); a smaller budget scales down by
            # not replacing finished batches, so nothing in flight is lost.
            while len(in_flight) < budget:
                in_flight.append(self._task.remote(self.work_s, self.io_s))
            time.sleep(self.step_s)  # the accelerator's step
            with self._lock:
                self._wait += waited
                self._steps += 1

    def report(self) -> JobReport:
        """Steps/s and data-wait fraction since the last report."""
        with self._lock:
            now = time.monotonic()
            span = max(now - self._since, 1e-6)
            out = JobReport(self.name, self.node, 1.0, self._steps / span, min(1.0, self._wait / span), self.budget)
            self._steps, self._wait, self._since = 0, 0.0, now
        return out

    def set_budget(self, workers: int) -> None:
        with self._lock:
            self.budget = max(1, int(workers))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def start_job(name: str, node: str, step_s: float, work_s: float, io_s: float = 0.0, budget: int = 1) -> Any:
    """Starts a :class:`SyntheticJob` as a Ray actor (``ray.init`` done); reports run beside training."""
    import ray

    # max_concurrency lets report()/set_budget() run while the training thread waits on data.
    actor: Any = ray.remote(SyntheticJob)
    return actor.options(num_cpus=0, max_concurrency=4).remote(name, node, step_s, work_s, io_s, budget)
