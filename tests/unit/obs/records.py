"""Hand-built ``Loader.stats()`` records of known pipelines, for the diagnosis and the exporter."""

from __future__ import annotations

from typing import Any


def record(
    *,
    samples: int = 3200,
    wait_s: float,
    step_s: float,
    workers: int = 2,
    max_workers: int = 8,
    worker_busy_s: float,
    worker_s: float,
    stage_s: dict[str, float],
    cpu_free: float | None = 4.0,
    prefetch: int = 2,
) -> dict[str, Any]:
    """A stats() dict with the keys the diagnosis and the exporter read."""
    busy = (wait_s + step_s) or 1.0  # stats() reports 0 rates before any trainer time
    return {
        "samples_per_s": samples / busy,
        "items_per_s": samples / 32 / busy,
        "samples": samples,
        "items": samples // 32,
        "wait_fraction": wait_s / busy,
        "wait_s": wait_s,
        "step_s": step_s,
        "wall_s": busy + 0.5,
        "workers": workers,
        "workers_max": workers,
        "workers_timeline": [(0.0, workers)],
        "stage_s_per_sample": {k: v / samples for k, v in stage_s.items()},
        "skipped": 3,
        "skipped_samples": [],
        "filtered": 1,
        "workers_lost": 1,
        "autoscaler": "",
        "autoscaler_log": [],
        "stage_s": dict(stage_s),
        "stage_samples": samples,
        "errors": 0,
        "worker_busy_s": worker_busy_s,
        "worker_s": worker_s,
        "epoch": 0,
        "duplicates_dropped": 2,
        "splits_reissued": 4,
        "autoscale": False,
        "min_workers": 1,
        "max_workers": max_workers,
        "queue_depth": 1,
        "prefetch": prefetch,
        "job": "train",
        "rank": 0,
        "backend": "local",
        "cpu_free": cpu_free,
        "first_wait_s": 0.0,
    }


# 3,200 samples; the trainer computes 1 s and waits 9 s; two workers decode 9.5 s each of 10 s held.
DECODE_BOUND = record(
    wait_s=9.0, step_s=1.0, worker_busy_s=19.0, worker_s=20.0, stage_s={"read": 1.0, "decode": 16.0, "collate": 2.0}
)
# The trainer computes 10 s and waits 0.2 s; workers are busy 2 s of 20 s held.
TRAINER_BOUND = record(
    wait_s=0.2, step_s=10.0, worker_busy_s=2.0, worker_s=20.0, stage_s={"read": 0.5, "decode": 1.0, "collate": 0.5}
)
# The trainer waits 8 s of 10 while the workers are busy only 3 s of 20: results are slow to arrive.
TRANSPORT_BOUND = record(
    wait_s=8.0, step_s=2.0, worker_busy_s=3.0, worker_s=20.0, stage_s={"read": 0.5, "decode": 2.0, "collate": 0.5}
)
