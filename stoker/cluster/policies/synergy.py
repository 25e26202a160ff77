"""``synergy``: Synergy-TUNE-like re-allocation of each node's CPUs among the jobs on it.

Synergy (Mohan et al., OSDI'22) never leaves a job worse off than its GPU-proportional share. Each round
(called by the simulator and the live controller) every job first keeps the fewest CPUs that give it the
throughput it would have at that share, by its learned curve; the node's remaining CPUs, idle GPUs' share
included, then go greedily to the jobs on that node that gain most per CPU. CPUs never leave a node.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from stoker.cluster.policies import _greedy, proportional
from stoker.cluster.policies.base import CpuParams, CpuPolicy
from stoker.cluster.records import Allocation, ClusterView, Job


def floor(job: Job, node_cpus: np.ndarray, node_gpus: np.ndarray, params: CpuParams) -> np.ndarray:
    return proportional.floor(job, node_cpus, node_gpus, params)


def enough(job: Job, fair_cpus: float) -> float:
    """Fewest CPUs giving ``job`` (by its curve) the throughput it has with ``fair_cpus``."""
    g = max(job.gpus, 1e-6)
    target = job.curve(fair_cpus / g)
    for x in job.curve.xs:
        if x * g >= fair_cpus:
            break
        if job.curve(x) >= target - 1e-9:
            return x * g
    return fair_cpus


def allocate(view: ClusterView, params: CpuParams) -> Allocation:
    nodes = {n.name: n for n in view.nodes}
    on_node: dict[str, list[Job]] = defaultdict(list)
    for job in view.jobs:
        on_node[view.placement[job.name]].append(job)
    alloc: Allocation = {}
    free: dict[str, float] = {}
    for name, jobs in on_node.items():
        node = nodes[name]
        free[name] = node.cpus - view.reserved.get(name, 0.0)
        for job in jobs:
            keep = enough(job, proportional.share(job, node.cpus, node.gpus))
            alloc[job.name] = {name: keep}
            free[name] -= keep
    return _greedy.grow(view.jobs, dict(view.placement), alloc, free)


POLICY = CpuPolicy("synergy", floor, allocate)
