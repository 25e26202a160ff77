"""Cluster policies by name: GPU placement (``fifo``, ``gavel``) and CPU for data workers
(``static``, ``proportional``, ``synergy``, ``elastic``). One policy per module; these two read-only
tables are the only place that names them.
"""

from __future__ import annotations

from stoker.cluster.policies import elastic, fifo, gavel, proportional, static, synergy
from stoker.cluster.policies.base import Capacity, CpuParams, CpuPolicy, PlaceFn
from stoker.registry import Registry

CPU_POLICIES: Registry[CpuPolicy] = Registry(
    "CPU policy", {p.name: p for p in (static.POLICY, proportional.POLICY, synergy.POLICY, elastic.POLICY)}
)
PLACEMENT_POLICIES: Registry[PlaceFn] = Registry("GPU placement policy", {"fifo": fifo.place, "gavel": gavel.place})


def cpu_policy(name: str) -> CpuPolicy:
    """The CPU policy called ``name``."""
    return CPU_POLICIES.lookup(name)


def placement_policy(name: str) -> PlaceFn:
    """The placement policy called ``name``."""
    return PLACEMENT_POLICIES.lookup(name)


__all__ = [
    "CPU_POLICIES",
    "PLACEMENT_POLICIES",
    "Capacity",
    "CpuParams",
    "CpuPolicy",
    "cpu_policy",
    "placement_policy",
]
