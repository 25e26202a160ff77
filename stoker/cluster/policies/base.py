"""The two kinds of cluster policy and what they are handed.

A *placement* policy picks a node for each waiting job; a *CPU* policy splits CPUs among data workers of
running jobs. Both are pure functions of plain records: :mod:`stoker.cluster.simulator` and
:mod:`stoker.cluster.controller` call the same ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from stoker.cluster.records import Allocation, ClusterView, Job

# CPUs a job must hold on its own node to be admitted there, per node:
# (job, node CPUs, node GPUs, params) -> CPUs per node.
FloorFn = Callable[[Job, np.ndarray, np.ndarray, "CpuParams"], np.ndarray]


@dataclass(frozen=True)
class CpuParams:
    """Knobs shared by the CPU policies.

    Attributes:
        remote_cost: Fraction of a remote CPU's work lost to moving its batches over the network
            (0: a remote CPU is as good as a local one).
        min_local_per_gpu: CPUs per GPU a job keeps on its own node for its trainer (elastic only).
    """

    remote_cost: float = 0.15
    min_local_per_gpu: float = 1.0

    def __post_init__(self) -> None:
        if not 0 <= self.remote_cost < 1:
            raise ValueError(f"remote_cost={self.remote_cost} should be in [0, 1)")
        if self.min_local_per_gpu <= 0:
            raise ValueError(f"min_local_per_gpu={self.min_local_per_gpu} should be > 0")


@dataclass(frozen=True)
class CpuPolicy:
    """One CPU policy: how much it needs to admit a job, and how it splits CPUs each round.

    Attributes:
        name: Registry name.
        floor: CPUs a job must get on its own node; the placement checks them, and ``allocate`` never
            gives less, so admitting a job never waits on CPUs another job only borrowed.
        allocate: The round's allocation; every node's total stays within its CPUs minus ``reserved``.
    """

    name: str
    floor: FloorFn
    allocate: Callable[[ClusterView, CpuParams], Allocation]


@dataclass
class Capacity:
    """Free resources per node, in the order of ``names``; what a placement policy may still hand out.

    Attributes:
        names: Node names.
        gpu_types: GPU type per node.
        gpus: Whole GPUs per node.
        cpus: CPUs per node.
        gpu_free: Free GPU share per node, GPUs.
        cpu_free: CPUs not held by floors or CPU-only pods (borrowed CPUs count as free).
        mem_free: Free memory per node, MiB.
    """

    names: Sequence[str]
    gpu_types: np.ndarray
    gpus: np.ndarray
    cpus: np.ndarray
    gpu_free: np.ndarray
    cpu_free: np.ndarray
    mem_free: np.ndarray


# queue (arrival order), capacity, floor -> [(job name, node name)] in the order they start.
PlaceFn = Callable[[Sequence[Job], Capacity, Callable[[Job], np.ndarray]], list[tuple[str, str]]]
