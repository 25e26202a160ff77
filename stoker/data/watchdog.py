"""Noticing splits that make no progress: stopped or hung workers, and hangs in the trainer itself.

The Loader reports what it sees (a worker got work while idle, began or returned a split, was
lost); :class:`ProgressWatch` says which workers have held a split for longer than the
Loader's ``timeout`` without any of that, so the Loader can replace them and re-issue their
splits. :func:`run_with_timeout` is the in-process (``workers=0``) counterpart.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any

from stoker.data.errors import WorkerLostError
from stoker.data.executor import Executor, SplitFailure, SplitResult
from stoker.data.splits import Split


def head(indices: tuple[int, ...], n: int = 16) -> str:
    """The first ``n`` sample indices of a split, for error messages."""
    return f"{list(indices[:n])}{'...' if len(indices) > n else ''}"


class ProgressWatch:
    """When each busy worker last showed progress (``time.monotonic()`` seconds)."""

    def __init__(self) -> None:
        self._heard: dict[Hashable, float] = {}
        self._stuck: set[Hashable] = set()  # replaced for holding a split past the timeout

    def assigned(self, worker: Hashable, now: float) -> None:
        """An idle worker was given work: its clock starts now."""
        self._heard[worker] = now

    def progressed(self, worker: Hashable, now: float) -> None:
        """The worker began or returned a split."""
        self._heard[worker] = now

    def gone(self, worker: Hashable) -> bool:
        """The worker was lost or exited; True when it was one this watch had declared stuck."""
        self._heard.pop(worker, None)
        was_stuck = worker in self._stuck
        self._stuck.discard(worker)
        return was_stuck

    def overdue(self, timeout: float, now: float, running: Callable[[Any], int | None]) -> list[tuple[Any, int]]:
        """Workers that held a split for more than ``timeout`` seconds without progress, with that split.

        Each is reported once and remembered as stuck (see :meth:`gone`).

        Args:
            timeout: Seconds without progress that make a worker stuck.
            now: The current ``time.monotonic()``.
            running: The split a worker is running, None when it holds none.
        """
        out = []
        for worker, heard in list(self._heard.items()):
            k = running(worker)
            if k is None or now - heard <= timeout:
                continue
            del self._heard[worker]
            self._stuck.add(worker)
            out.append((worker, k))
        return out


def run_with_timeout(executor: Executor, split: Split, timeout: float | None) -> SplitResult | SplitFailure:
    """Runs a split in this process; with a ``timeout``, on a helper thread so a hang is noticed.

    Raises:
        WorkerLostError: The split did not finish within ``timeout`` seconds; names it and its samples.
    """
    if timeout is None:
        return executor.run(split)
    box: list[SplitResult | SplitFailure] = []
    runner = threading.Thread(target=lambda: box.append(executor.run(split)), name="stoker-inline", daemon=True)
    runner.start()
    runner.join(timeout)
    if not box:
        # A thread cannot be killed: the hung call stays behind, but the trainer gets control back.
        raise WorkerLostError(
            f"split {split.index} of epoch {split.epoch} (samples {head(split.indices)}) made no progress for "
            f"{timeout:g} s in the trainer process (workers=0): a pipeline function or __getitem__ hangs. "
            f"Fix it, or use workers >= 1 so a stuck split is retried on a fresh worker."
        )
    return box[0]
