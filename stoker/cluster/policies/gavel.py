"""``gavel``: heterogeneity-aware placement after Gavel's normalised throughput (Narayanan et al., OSDI'20).

Called by the simulator and the live controller whenever jobs wait. Each job goes, among the nodes it fits
on (``gpu_spec`` honoured), to the GPU type where its speed *relative to the other waiting jobs* is highest:
``advantage(job, t) = norm(job, t) / mean over queue of norm(j, t)`` with ``norm(job, t)`` the job's speed on
``t`` over its mean speed across the types in the cluster. So a job that barely slows on an old GPU takes it
and leaves the fast GPUs to the jobs that gain most from them. Ties go to the tightest fit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from stoker.cluster.policies import _backfill
from stoker.cluster.policies.base import Capacity
from stoker.cluster.records import Job


def _norm(job: Job, types: Sequence[str]) -> dict[str, float]:
    speeds = {t: job.speed(t) for t in types}
    mean = sum(speeds.values()) / len(speeds)
    return {t: s / mean if mean > 0 else 1.0 for t, s in speeds.items()}


def place(queue: Sequence[Job], cap: Capacity, floor: Callable[[Job], np.ndarray]) -> list[tuple[str, str]]:
    types = sorted({str(t) for t, g in zip(cap.gpu_types, cap.gpus) if g > 0})
    if not types:
        return []
    norms = {job.name: _norm(job, types) for job in queue}
    mean_norm = {t: sum(n[t] for n in norms.values()) / len(norms) for t in types}

    def choose(job: Job, fits: np.ndarray, c: Capacity) -> int:
        adv = norms[job.name]
        score = np.array([adv[str(c.gpu_types[i])] / mean_norm[str(c.gpu_types[i])] for i in fits])
        top = fits[score >= score.max() - 1e-9]
        return _backfill.best_fit(job, top, c)

    return _backfill.place(queue, cap, floor, choose)
