"""``gavel``: heterogeneity-aware placement after Gavel's normalised throughput (Narayanan et al., OSDI'20).

Called by the simulator and the live controller whenever jobs wait. Each job goes, among the nodes it fits
on (``gpu_spec`` honoured), to the GPU type with the highest
``score(job, t) = speed(job, t) / best speed(job) * norm(job, t) / mean over queue of norm(j, t)``:
the first factor is Gavel's normalised throughput (alone, a job takes its fastest type), the second its
advantage on ``t`` relative to the other waiting jobs (``norm`` = speed on ``t`` over the job's mean speed
across the cluster's types). So a job that barely slows on an old GPU takes it and leaves the fast GPUs
to the jobs that gain most from them. Ties go to the tightest fit.
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
        best = max(job.speed(t) for t in types) or 1.0

        def score(t: str) -> float:
            return job.speed(t) / best * adv[t] / mean_norm[t]

        score_of = {t: score(t) for t in types}
        scores = np.array([score_of[str(c.gpu_types[i])] for i in fits])
        top = fits[scores >= scores.max() - 1e-9]
        return _backfill.best_fit(job, top, c)

    return _backfill.place(queue, cap, floor, choose)
