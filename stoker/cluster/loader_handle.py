"""A :class:`stoker.Loader` as a job the live controller can steer.

``report()`` turns the Loader's cumulative ``stats()`` into what the trainer saw since the last report;
``set_budget(n)`` sets its data workers with ``loader.scale(n)``, which drains surplus workers so no
in-flight sample is lost. Works with any backend (``local`` processes today, ``ray`` actors the same way).
"""

from __future__ import annotations

from typing import Any

from stoker.cluster.learning import JobReport


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
