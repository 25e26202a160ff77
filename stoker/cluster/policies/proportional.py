"""``proportional``: a node's CPUs split in proportion to the GPUs each job holds there.

Called by the simulator and the live controller every round. CPUs of idle GPUs stay idle: that share
belongs to the GPU, not to whoever happens to run beside it.
"""

from __future__ import annotations

import numpy as np

from stoker.cluster.policies.base import CpuParams, CpuPolicy
from stoker.cluster.records import Allocation, ClusterView, Job


def floor(job: Job, node_cpus: np.ndarray, node_gpus: np.ndarray, params: CpuParams) -> np.ndarray:
    return node_cpus * job.gpus / np.maximum(node_gpus, 1)


def share(job: Job, node_cpus: float, node_gpus: int) -> float:
    """The GPU-proportional share of ``job`` on a node with ``node_cpus`` CPUs and ``node_gpus`` GPUs."""
    return node_cpus * job.gpus / max(node_gpus, 1)


def allocate(view: ClusterView, params: CpuParams) -> Allocation:
    nodes = {n.name: n for n in view.nodes}
    alloc: Allocation = {}
    for job in view.jobs:
        node = nodes[view.placement[job.name]]
        alloc[job.name] = {node.name: share(job, node.cpus, node.gpus)}
    return alloc


POLICY = CpuPolicy("proportional", floor, allocate)
