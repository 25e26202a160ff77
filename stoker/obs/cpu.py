"""Cores idle on the machine a job's local workers run on, averaged since the loader started."""

from __future__ import annotations

import threading
from collections.abc import Callable

import psutil


def _idle_and_total() -> tuple[float, float]:
    t = psutil.cpu_times()  # all cores together, seconds
    idle = t.idle + getattr(t, "iowait", 0.0)
    return idle, sum(t)


class CpuMeter:
    """Idle cores on this machine since construction: ``cores x idle share of all CPU time``.

    Machine-wide on purpose: the diagnosis asks whether another local worker would find a core,
    and a core that another job keeps busy is no more free than one this job uses. It keeps its
    own baseline, apart from the autoscaler's windowed ``pool.cpu_free()``, so reading it (at a
    scrape, in ``stats()``) never shifts the autoscaler's window.

    Args:
        local: Returns whether the workers run on this machine; when not (Ray actors elsewhere)
            :meth:`cores_idle` is None.
    """

    def __init__(self, local: Callable[[], bool]) -> None:
        self._local = local
        self._lock = threading.Lock()
        self._idle0, self._total0 = _idle_and_total()

    def cores_idle(self) -> float | None:
        """Idle cores, averaged since the meter started (None: unknown)."""
        if not self._local():
            return None
        with self._lock:
            idle, total = _idle_and_total()
        cores = psutil.cpu_count() or 1
        spent = total - self._total0
        if spent <= 0:  # no clock tick yet
            return None
        # The counters are float seconds summed over fields: an all-idle machine can come out a hair
        # above `cores` (2.000000000364 of 2), so the share is clamped to what can be true.
        return cores * min(1.0, max(0.0, (idle - self._idle0) / spent))
