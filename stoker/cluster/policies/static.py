"""``static``: each job gets the CPUs it requested, on its own node (what clusters do today).

Called by the simulator and the live controller every round; a job whose request exceeds its node's CPUs
gets the whole node's CPUs (otherwise it could never start).
"""

from __future__ import annotations

import numpy as np

from stoker.cluster.policies.base import CpuParams, CpuPolicy
from stoker.cluster.records import Allocation, ClusterView, Job


def floor(job: Job, node_cpus: np.ndarray, node_gpus: np.ndarray, params: CpuParams) -> np.ndarray:
    return np.minimum(job.cpus, node_cpus)


def allocate(view: ClusterView, params: CpuParams) -> Allocation:
    cpus = {n.name: n.cpus for n in view.nodes}
    return {j.name: {view.placement[j.name]: min(j.cpus, cpus[view.placement[j.name]])} for j in view.jobs}


POLICY = CpuPolicy("static", floor, allocate)
