"""Counters behind ``Loader.stats()``: throughput, data-wait, workers over time, stage costs."""

from __future__ import annotations

import collections
import time
from collections import defaultdict
from typing import Any

from stoker.data.executor import SkipRecord, SplitResult

MAX_LISTED_SKIPS = 1000
MAX_DECISIONS = 200  # recent autoscaler decisions kept for stats()


class LoaderStats:
    """Accumulates what the trainer saw; cheap enough to update on every item."""

    def __init__(self, workers: int) -> None:
        self.t0 = time.monotonic()
        self.items = 0
        self.samples = 0
        self.wait_s = 0.0
        self.step_s = 0.0
        self.stage_s: dict[str, float] = defaultdict(float)
        self.stage_samples = 0
        self.skipped = 0
        self.skipped_list: list[SkipRecord] = []
        self.filtered = 0
        self.lost_workers = 0
        self.errors = 0  # failed splits delivered under on_error="raise"
        self.worker_busy_s = 0.0  # seconds workers spent running splits (all workers together)
        self.first_wait_s = 0.0  # the first item's wait: workers starting up, not a steady bottleneck
        self.stuck_workers = 0  # replaced after holding a split for the Loader's timeout
        self.timeline: list[tuple[float, int]] = [(0.0, workers)]
        self.last_decision = ""
        self.decisions: collections.deque[tuple[float, int, str]] = collections.deque(maxlen=MAX_DECISIONS)
        # Window accumulators for the autoscaler, reset by take_window().
        self.w_start = self.t0
        self.w_wait = 0.0
        self.w_step = 0.0
        self.w_items = 0
        self.w_busy = 0.0
        self.w_made = 0

    def on_result(self, res: SplitResult) -> None:
        for name, s in res.stage_s.items():
            self.stage_s[name] += s
        self.stage_samples += res.samples
        self.filtered += res.filtered
        self.skipped += len(res.skipped)
        room = MAX_LISTED_SKIPS - len(self.skipped_list)
        if room > 0:
            self.skipped_list.extend(res.skipped[:room])
        self.w_busy += res.busy_s
        self.worker_busy_s += res.busy_s
        self.w_made += len(res.items)

    def on_item(self, samples: int, wait_s: float, step_s: float) -> None:
        if self.items == 0:
            self.first_wait_s = wait_s
        self.items += 1
        self.samples += samples
        self.wait_s += wait_s
        self.step_s += step_s
        self.w_items += 1
        self.w_wait += wait_s
        self.w_step += step_s

    def on_failure(self) -> None:
        """A failed split reached the trainer (it raises SampleError)."""
        self.errors += 1

    def on_workers(self, n: int) -> None:
        if self.timeline[-1][1] != n:
            self.timeline.append((round(time.monotonic() - self.t0, 3), n))

    def on_decision(self, workers: int, reason: str) -> None:
        self.last_decision = reason
        self.decisions.append((round(time.monotonic() - self.t0, 3), workers, reason))

    def take_window(self) -> dict[str, float]:
        now = time.monotonic()
        w = {
            "window_s": now - self.w_start,
            "wait_s": self.w_wait,
            "step_s": self.w_step,
            "items": self.w_items,
            "worker_busy_s": self.w_busy,
            "worker_items": self.w_made,
        }
        self.w_start = now
        self.w_wait = self.w_step = self.w_busy = 0.0
        self.w_items = self.w_made = 0
        return w

    def worker_seconds(self, wall: float) -> float:
        """Worker-seconds the timeline held up to ``wall`` seconds (the denominator of worker utilisation)."""
        total = 0.0
        points = list(self.timeline)
        for (t, n), (t_next, _) in zip(points, [*points[1:], (wall, 0)]):
            total += n * max(0.0, min(t_next, wall) - t)
        return total

    def snapshot(self, workers: int, extra: dict[str, Any]) -> dict[str, Any]:
        wall = time.monotonic() - self.t0
        busy = self.wait_s + self.step_s
        per_sample = {k: v / self.stage_samples for k, v in self.stage_s.items()} if self.stage_samples else {}
        return {
            "samples_per_s": self.samples / busy if busy > 0 else 0.0,
            "items_per_s": self.items / busy if busy > 0 else 0.0,
            "samples": self.samples,
            "items": self.items,
            "wait_fraction": self.wait_s / busy if busy > 0 else 0.0,
            "wait_s": self.wait_s,
            "step_s": self.step_s,
            "wall_s": wall,
            "workers": workers,
            "workers_max": max(n for _, n in self.timeline),
            "workers_timeline": list(self.timeline),
            "stage_s_per_sample": per_sample,
            "skipped": self.skipped,
            "skipped_samples": [vars(s) for s in self.skipped_list],
            "filtered": self.filtered,
            "workers_lost": self.lost_workers,
            "workers_stuck": self.stuck_workers,
            "autoscaler": self.last_decision,
            "autoscaler_log": list(self.decisions),
            "stage_s": dict(self.stage_s),
            "stage_samples": self.stage_samples,
            "errors": self.errors,
            "worker_busy_s": self.worker_busy_s,
            "worker_s": self.worker_seconds(wall),
            "first_wait_s": self.first_wait_s,
            **extra,
        }
