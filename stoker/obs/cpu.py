"""Cores a job leaves idle, measured from its own processes' CPU times (trainer + local workers)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

import psutil


def cores() -> int:
    """Cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


class CpuMeter:
    """Average idle cores since construction: ``cores - (CPU seconds used by the job) / wall seconds``.

    It keeps its own readings, apart from the autoscaler's windowed ``pool.cpu_free()``, so a
    scrape never shifts the autoscaler's window. Other processes on the machine are not counted
    (as in :meth:`stoker.backends.local.LocalPool.cpu_free`).

    Args:
        pids: Returns the worker process ids now alive, or None when the backend cannot tell
            (Ray actors on other nodes): then :meth:`cores_idle` is None.
    """

    def __init__(self, pids: Callable[[], list[int] | None]) -> None:
        self._pids = pids
        self._lock = threading.Lock()
        self._t0 = time.monotonic()
        self._seen: dict[int, float] = {}  # pid -> CPU seconds at the last reading (dead ones kept)
        self._base = self._read(os.getpid()) or 0.0  # the trainer's CPU before the loader existed

    @staticmethod
    def _read(pid: int) -> float | None:
        try:
            t = psutil.Process(pid).cpu_times()
        except psutil.Error:
            return None
        return float(t.user + t.system)

    def cores_idle(self) -> float | None:
        """Idle cores, averaged since the meter started (None: unknown)."""
        workers = self._pids()
        if workers is None:
            return None
        with self._lock:
            for pid in [os.getpid(), *workers]:
                used = self._read(pid)
                if used is not None:
                    self._seen[pid] = used
            wall = time.monotonic() - self._t0
            used_s = sum(self._seen.values()) - self._base
        return max(0.0, cores() - used_s / wall) if wall > 0 else float(cores())
