"""The FIFO-with-backfill loop both placement policies share; they differ only in which fitting node wins.

Jobs are taken in arrival order. A job that fits nowhere *reserves* the node where it would fit soonest
(most GPUs free among those big enough and of an allowed type); later jobs may start ahead of it
(backfill) but never on that node, so the node only drains and the blocked job starts when it has: no
starvation. Only the first blocked job holds a reservation, as in EASY backfilling.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from stoker.cluster.policies.base import Capacity
from stoker.cluster.records import Job

EPS = 1e-9

# (job, indices of the nodes it fits on, capacity) -> index of the chosen node.
ChooseFn = Callable[[Job, np.ndarray, Capacity], int]


def type_mask(job: Job, cap: Capacity) -> np.ndarray:
    """Nodes whose GPU type ``gpu_spec`` allows."""
    if not job.gpu_types:
        return cap.gpus > 0
    return np.isin(cap.gpu_types, job.gpu_types) & (cap.gpus > 0)


def best_fit(job: Job, fits: np.ndarray, cap: Capacity) -> int:
    """The fitting node left with the fewest free GPUs (keeps whole nodes free for big jobs)."""
    left = cap.gpu_free[fits] - job.gpus
    return int(fits[int(np.argmin(left))])


def place(
    queue: Sequence[Job], cap: Capacity, floor: Callable[[Job], np.ndarray], choose: ChooseFn
) -> list[tuple[str, str]]:
    """Places jobs of ``queue`` onto ``cap`` (updated in place); returns (job, node) in start order."""
    started: list[tuple[str, str]] = []
    blocked = np.zeros(len(cap.names), dtype=bool)
    reserved = False
    most_free = float(cap.gpu_free.max(initial=0.0))
    # Within one call capacity only shrinks, so a job shaped like one that did not fit does not fit
    # either: skipping those keeps a long queue behind a full cluster (the common case) cheap.
    failed: set[tuple] = set()
    for job in queue:
        if job.gpus > most_free + EPS and reserved:
            continue
        shape = (job.gpus, job.cpus, job.memory_mib, job.gpu_types)
        if shape in failed:
            continue
        allowed = type_mask(job, cap)
        need_cpu = floor(job)
        ok = (
            allowed
            & ~blocked
            & (cap.gpu_free >= job.gpus - EPS)
            & (cap.cpu_free >= need_cpu - EPS)
            & (cap.mem_free >= job.memory_mib)
        )
        fits = np.flatnonzero(ok)
        if fits.size:
            i = choose(job, fits, cap)
            cap.gpu_free[i] -= job.gpus
            cap.cpu_free[i] -= need_cpu[i]
            cap.mem_free[i] -= job.memory_mib
            started.append((job.name, cap.names[i]))
            most_free = float(cap.gpu_free[~blocked].max(initial=0.0))
            continue
        failed.add(shape)
        if not reserved:
            could = np.flatnonzero(allowed & (cap.gpus >= job.gpus - EPS) & (cap.cpus >= need_cpu - EPS))
            if could.size:
                blocked[could[int(np.argmax(cap.gpu_free[could]))]] = True
                reserved = True
                most_free = float(cap.gpu_free[~blocked].max(initial=0.0))
    return started
