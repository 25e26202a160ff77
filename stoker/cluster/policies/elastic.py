"""``elastic`` (ours, after GoldMiner): data workers on spare CPUs of *any* node.

Data workers are stateless, so they can run anywhere and be taken back at any time without losing a
sample. Each round (called by the simulator and the live controller) a job keeps ``min_local_per_gpu``
CPUs per GPU on its own node for its trainer; every other CPU in the cluster not reserved by CPU-only work
goes, a step at a time, to the job whose learned curve gains most per CPU, a borrowed (remote) CPU counting
``1 - remote_cost`` of a local one. The allocation is recomputed from the floors every round, so when a new
job arrives its floor comes first and the CPUs others only borrowed go back: the lowest-gain ones first,
since the greedy gave them out last.
"""

from __future__ import annotations

import numpy as np

from stoker.cluster.policies import _greedy
from stoker.cluster.policies.base import CpuParams, CpuPolicy
from stoker.cluster.records import Allocation, ClusterView, Job


def floor(job: Job, node_cpus: np.ndarray, node_gpus: np.ndarray, params: CpuParams) -> np.ndarray:
    return np.minimum(node_cpus, params.min_local_per_gpu * job.gpus)


def allocate(view: ClusterView, params: CpuParams) -> Allocation:
    nodes = {n.name: n for n in view.nodes}
    free = {n.name: n.cpus - view.reserved.get(n.name, 0.0) for n in view.nodes}
    alloc: Allocation = {}
    for job in view.jobs:
        home = nodes[view.placement[job.name]]
        keep = float(min(home.cpus, params.min_local_per_gpu * job.gpus))
        alloc[job.name] = {home.name: keep}
        free[home.name] -= keep
    remote = [n.name for n in view.nodes]
    return _greedy.grow(view.jobs, dict(view.placement), alloc, free, remote, params.remote_cost)


POLICY = CpuPolicy("elastic", floor, allocate)
