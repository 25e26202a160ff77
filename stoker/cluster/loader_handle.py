"""A :class:`stoker.Loader` as a job the live controller can steer.

``report()`` turns the Loader's cumulative ``stats()`` into what the trainer saw since the last report;
``set_budget(n)`` sets its data workers with ``loader.scale(n)``, which drains surplus workers so no
in-flight sample is lost. Works with any backend (``local`` processes today, ``ray`` actors the same way).
"""

from __future__ import annotations

from typing import Any

from stoker.cluster.controller import JobReport


class LoaderHandle:
    """Adapts one job's Loader to :class:`~stoker.cluster.controller.JobHandle`.

    Args:
        name: Job name.
        node: Node its trainer runs on.
        gpus: Accelerators the trainer holds.
        loader: The job's ``stoker.Loader`` (anything with ``stats()`` and ``scale(n)``).
    """

    def __init__(self, name: str, node: str, gpus: float, loader: Any) -> None:
        self.name, self.node, self.gpus, self.loader = name, node, gpus, loader
        self._last = self._counters()

    def _counters(self) -> tuple[float, float, float]:
        s = self.loader.stats()
        return float(s["samples"]), float(s["wait_s"]), float(s["step_s"])

    def report(self) -> JobReport:
        """Samples/s and data-wait fraction over the trainer's time since the last report."""
        now = self._counters()
        samples, wait, step = (a - b for a, b in zip(now, self._last))
        self._last = now
        busy = wait + step
        workers = int(self.loader.stats()["workers"])
        if busy <= 0:
            return JobReport(self.name, self.node, self.gpus, 0.0, 0.0, workers)
        return JobReport(self.name, self.node, self.gpus, samples / busy, wait / busy, workers)

    def set_budget(self, workers: int) -> None:
        self.loader.scale(int(workers))


class LoaderJob:
    """A trainer with a simulated accelerator (a step is a sleep) fed by a real ``stoker.Loader``.

    Run it as a Ray actor (``ray.remote(LoaderJob).options(max_concurrency=4)``) so the live controller
    can call ``report()``/``set_budget(n)`` while it trains; ``backend="ray"`` puts its data workers on
    the cluster's nodes. It trains epoch after epoch until ``stop()``.

    Args:
        name: Job name.
        node: Node the trainer runs on.
        pipeline: The job's data pipeline.
        step_s: Seconds per simulated accelerator step (one batch).
        workers: Initial data workers.
        loader_options: Passed to ``stoker.Loader`` (``backend="ray"``...).
    """

    def __init__(
        self, name: str, node: str, pipeline: Any, step_s: float, workers: int = 1, **loader_options: Any
    ) -> None:
        import threading

        import stoker

        self.loader = stoker.Loader(pipeline, workers=workers, **loader_options)
        self.handle = LoaderHandle(name, node, 1.0, self.loader)
        self.step_s = step_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._train, daemon=True)
        self._thread.start()

    def _train(self) -> None:
        import time

        while not self._stop.is_set():
            for _batch in self.loader:
                time.sleep(self.step_s)  # the accelerator's step
                if self._stop.is_set():
                    return

    def report(self) -> JobReport:
        return self.handle.report()

    def set_budget(self, workers: int) -> None:
        self.handle.set_budget(workers)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.loader.close()
