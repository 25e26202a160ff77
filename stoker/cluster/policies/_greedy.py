"""Greedy CPU hand-out by marginal gain per CPU, shared by ``synergy`` (own node) and ``elastic`` (any node).

The gain of a CPU is how much more of its GPUs' time a job keeps busy: ``gpus * d(utilisation)`` where
utilisation is the job's learned throughput over its peak (:meth:`Curve.utilisation`). Summed over jobs
that is the cluster's useful GPU work, the quantity the simulator reports as ``gpu_util``.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

from stoker.cluster.records import Allocation, Job

EPS = 1e-9


def gain_per_cpu(job: Job, effective_cpus: float, extra: float) -> float:
    """Busy-GPU gain of ``extra`` more effective CPUs for ``job``, per CPU."""
    g = max(job.gpus, 1e-6)
    before = job.curve.utilisation(effective_cpus / g)
    after = job.curve.utilisation((effective_cpus + extra) / g)
    return g * (after - before) / extra


class _RemotePool:
    """Nodes data workers may borrow from, most free first (lazy max-heap)."""

    def __init__(self, names: Sequence[str], free: dict[str, float]) -> None:
        self.free = free
        self.heap = [(-free[n], n) for n in names if free[n] > EPS]
        heapq.heapify(self.heap)

    def best(self, exclude: str) -> str | None:
        skipped = []
        found = None
        while self.heap:
            neg, name = self.heap[0]
            if abs(-neg - self.free[name]) > EPS:  # stale entry: re-key it
                heapq.heappop(self.heap)
                if self.free[name] > EPS:
                    heapq.heappush(self.heap, (-self.free[name], name))
                continue
            if name == exclude:
                skipped.append(heapq.heappop(self.heap))
                continue
            found = name
            break
        for item in skipped:
            heapq.heappush(self.heap, item)
        return found


def grow(
    jobs: Sequence[Job],
    own: dict[str, str],
    alloc: Allocation,
    free: dict[str, float],
    remote: Sequence[str] = (),
    remote_cost: float = 0.0,
) -> Allocation:
    """Hands free CPUs to the job that gains most per CPU until nothing gains.

    Args:
        jobs: Jobs that may receive CPUs.
        own: Job name -> its node.
        alloc: Starting allocation, updated in place and returned.
        free: Node name -> CPUs still free, updated in place.
        remote: Nodes any job may borrow from (empty: own node only).
        remote_cost: Fraction of a borrowed CPU's work lost to the network.
    """
    weight = 1.0 - remote_cost
    pool = _RemotePool(remote, free) if remote else None
    eff = {j.name: sum(c if n == own[j.name] else c * weight for n, c in alloc.get(j.name, {}).items()) for j in jobs}

    def candidate(job: Job) -> tuple[float, str, float] | None:
        home = own[job.name]
        node, w = home, 1.0
        if free.get(home, 0.0) <= EPS:
            picked = pool.best(exclude=home) if pool else None
            if picked is None:
                return None
            node, w = picked, weight
        # Take CPUs up to the curve's next breakpoint at once: the curve is linear in between, so the
        # gain per CPU is the same for each of them and one step does what many would.
        g = max(job.gpus, 1e-6)
        nxt = job.curve.next_breakpoint(eff[job.name] / g)
        if nxt is None:
            return None
        amount = min((nxt * g - eff[job.name]) / w, free[node])
        if amount <= EPS:
            return None
        gain = gain_per_cpu(job, eff[job.name], amount * w) * w
        return (gain, node, amount) if gain > EPS else None

    by_name = {j.name: j for j in jobs}
    heap: list[tuple[float, str]] = []
    for job in jobs:
        cand = candidate(job)
        if cand:
            heap.append((-cand[0], job.name))
    heapq.heapify(heap)
    while heap:
        neg, name = heapq.heappop(heap)
        job = by_name[name]
        cand = candidate(job)
        if cand is None:
            continue
        gain, node, amount = cand
        if gain < -neg - EPS:  # the world changed since this entry was keyed: re-queue at its true gain
            heapq.heappush(heap, (-gain, name))
            continue
        per_node = alloc.setdefault(name, {})
        per_node[node] = per_node.get(node, 0.0) + amount
        free[node] -= amount
        eff[name] += amount * (1.0 if node == own[name] else weight)
        nxt = candidate(job)
        if nxt:
            heapq.heappush(heap, (-nxt[0], name))
    return alloc
