"""Plain records the cluster policies read and write.

Policies are pure functions of these records (see :mod:`stoker.cluster.policies`), so the trace-driven
simulator and the live controller on Ray hand them the same inputs and get the same decisions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from stoker.cluster.curve import Curve


@dataclass(frozen=True)
class Node:
    """One machine.

    Attributes:
        name: Unique node name (the trace's ``sn``).
        cpus: CPU cores on the node.
        memory_mib: Host memory, MiB.
        gpus: Whole GPUs on the node; 0 for a CPU-only node.
        gpu_type: GPU model as the trace names it (``"G2"``, ``"T4"``, ``"V100M16"``...); ``""`` without GPUs.
    """

    name: str
    cpus: float
    memory_mib: int
    gpus: int
    gpu_type: str = ""


@dataclass(frozen=True)
class Job:
    """One training job as the scheduler sees it.

    Attributes:
        name: Unique job name (the trace's pod name).
        gpus: GPU share it needs on one node, in GPUs (``num_gpu * gpu_milli / 1000``; 0.46 for a shared GPU).
        cpus: CPUs it requested (the trace's ``cpu_milli / 1000``).
        memory_mib: Host memory it requested, MiB.
        arrival_s: When it was submitted, seconds from the start of the trace.
        gpu_types: GPU types it may run on (the trace's ``gpu_spec``); empty means any.
        curve: Throughput over data-worker CPUs per GPU, normalised to 1 at the requested CPUs. Policies
            read the curve the job has *learned* so far (:class:`stoker.cluster.curve.OnlineCurve`).
        speeds: Relative step rate per GPU type (reference type = 1); a type not listed runs at 1.
    """

    name: str
    gpus: float
    cpus: float
    memory_mib: int = 0
    arrival_s: float = 0.0
    gpu_types: tuple[str, ...] = ()
    curve: Curve = field(default_factory=lambda: Curve.flat())
    speeds: Mapping[str, float] = field(default_factory=dict)

    def allows(self, gpu_type: str) -> bool:
        """Whether ``gpu_spec`` lets the job run on ``gpu_type``."""
        return not self.gpu_types or gpu_type in self.gpu_types

    def speed(self, gpu_type: str) -> float:
        """Relative step rate on ``gpu_type`` (1 for an unprofiled type)."""
        return float(self.speeds.get(gpu_type, 1.0))


@dataclass(frozen=True)
class ClusterView:
    """What a CPU policy sees in one round.

    Attributes:
        nodes: Every node, GPU and CPU-only.
        jobs: Running GPU jobs.
        placement: Job name -> the node its trainer (and GPUs) sit on.
        reserved: Node name -> CPUs held by work the policy may not touch (CPU-only pods), CPUs.
    """

    nodes: tuple[Node, ...]
    jobs: tuple[Job, ...]
    placement: Mapping[str, str]
    reserved: Mapping[str, float] = field(default_factory=dict)


# Job name -> node name -> CPUs given to that job's data workers on that node.
Allocation = dict[str, dict[str, float]]


def node_usage(alloc: Allocation) -> dict[str, float]:
    """CPUs allocated on each node over all jobs."""
    used: dict[str, float] = {}
    for per_node in alloc.values():
        for node, cpus in per_node.items():
            used[node] = used.get(node, 0.0) + cpus
    return used
