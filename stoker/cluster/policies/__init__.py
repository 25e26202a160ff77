"""Cluster policies by name: GPU placement (``fifo``, ``gavel``) and CPU for data workers
(``static``, ``proportional``, ``synergy``, ``elastic``). One policy per module; these two read-only
tables are the only place that names them.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from stoker.cluster.policies import elastic, fifo, gavel, proportional, static, synergy
from stoker.cluster.policies.base import Capacity, CpuParams, CpuPolicy, PlaceFn

CPU_POLICIES: Mapping[str, CpuPolicy] = MappingProxyType(
    {p.name: p for p in (static.POLICY, proportional.POLICY, synergy.POLICY, elastic.POLICY)}
)
PLACEMENT_POLICIES: Mapping[str, PlaceFn] = MappingProxyType({"fifo": fifo.place, "gavel": gavel.place})


def cpu_policy(name: str) -> CpuPolicy:
    """The CPU policy called ``name``."""
    if name not in CPU_POLICIES:
        raise ValueError(f"unknown CPU policy {name=}; choose one of {sorted(CPU_POLICIES)}")
    return CPU_POLICIES[name]


def placement_policy(name: str) -> PlaceFn:
    """The placement policy called ``name``."""
    if name not in PLACEMENT_POLICIES:
        raise ValueError(f"unknown placement policy {name=}; choose one of {sorted(PLACEMENT_POLICIES)}")
    return PLACEMENT_POLICIES[name]


__all__ = [
    "CPU_POLICIES",
    "PLACEMENT_POLICIES",
    "Capacity",
    "CpuParams",
    "CpuPolicy",
    "cpu_policy",
    "placement_policy",
]
