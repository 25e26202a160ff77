"""A background sampler that hands ``stats()`` to sinks once a period: the JSONL log, TensorBoard.

It runs in its own daemon thread, so the trainer's ``next()`` never writes a file or a summary.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

# Keys of stats() that grow with the run; the timeline keeps them out of every line.
LIST_KEYS = ("skipped_samples", "autoscaler_log", "workers_timeline")
SAMPLE_PERIOD_S = 1.0


class Sink(Protocol):
    def write(self, record: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


def timeline_record(stats: dict[str, Any]) -> dict[str, Any]:
    """One JSONL line: ``stats()`` at a moment, without its ever-growing lists."""
    return {k: v for k, v in stats.items() if k not in LIST_KEYS}


class JsonlSink:
    """Appends one JSON object a line to ``path`` (read by ``stoker report``)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        parent = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(parent):
            raise FileNotFoundError(f"stats_log={self.path!r}: the folder {parent!r} does not exist; create it first")
        self._f = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - open for the sampler's lifetime

    def write(self, record: dict[str, Any]) -> None:
        self._f.write(json.dumps(timeline_record(record)) + "\n")
        self._f.flush()  # a crash keeps every line written so far

    def close(self) -> None:
        self._f.close()


class TensorBoardSink:
    """Scalars to a ``torch.utils.tensorboard.SummaryWriter`` (or anything with ``add_scalar``).

    The step is the number of items (batches) delivered, so curves line up with training steps.
    """

    SCALARS = ("samples_per_s", "wait_fraction", "workers", "max_workers", "queue_depth", "skipped", "errors")

    def __init__(self, writer: Any, tag: str = "stoker") -> None:
        if not callable(getattr(writer, "add_scalar", None)):
            raise TypeError(f"tensorboard={writer!r} should be a SummaryWriter (an object with add_scalar)")
        self.writer = writer
        self.tag = tag

    def write(self, record: dict[str, Any]) -> None:
        step = int(record.get("items", 0))
        for key in self.SCALARS:
            if record.get(key) is not None:
                self.writer.add_scalar(f"{self.tag}/{key}", float(record[key]), step)
        for stage, s in record.get("stage_s_per_sample", {}).items():
            self.writer.add_scalar(f"{self.tag}/stage_ms_per_sample/{stage}", 1000.0 * s, step)

    def close(self) -> None:
        self.writer.flush()  # the user owns the writer and closes it


class Sampler:
    """Calls ``stats`` every ``period`` seconds in a daemon thread and writes each sink.

    Args:
        stats: Returns the loader's stats, or None once it is gone (the thread then ends).
        sinks: Where each snapshot goes.
        period: Seconds between snapshots.
    """

    def __init__(self, stats: Callable[[], dict[str, Any] | None], sinks: list[Sink], period: float = SAMPLE_PERIOD_S):
        self._stats = stats
        self.sinks = sinks
        self.period = period
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="stoker-stats-sampler", daemon=True)
        self._thread.start()

    def _sample(self) -> bool:
        try:
            s = self._stats()
        except RuntimeError:  # a dict grew while read from this thread: the next period reads again
            return True
        if s is None:
            return False
        with self._lock:
            for sink in self.sinks:
                sink.write(s)
        return True

    def _run(self) -> None:
        next_at = time.monotonic() + self.period
        while not self._stop.wait(max(0.0, next_at - time.monotonic())):
            next_at += self.period
            if not self._sample():
                return

    def close(self) -> None:
        """Writes a last snapshot (the run's final figures) and closes the sinks; safe to call twice."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join(timeout=5)
        self._sample()
        with self._lock:
            for sink in self.sinks:
                sink.close()
