"""Where the Ray backend starts a new data worker: pure functions of plain records, one per file.

The Ray pool calls the policy selected by name (``Loader(..., backend="ray", placement=NAME)``)
each time it adds a worker, with a :class:`PlacementRequest` describing the live nodes; the
policy returns a :class:`Placement`. Register a new policy by adding it to ``POLICIES``.
"""

from __future__ import annotations

from collections.abc import Callable

from stoker.backends.placement.base import NodeRecord, Placement, PlacementRequest
from stoker.backends.placement.free_cpus import free_cpus_policy
from stoker.backends.placement.spread import spread_policy

Policy = Callable[[PlacementRequest], Placement]

POLICIES: dict[str, Policy] = {"free_cpus": free_cpus_policy, "spread": spread_policy}


def get_policy(name: str) -> Policy:
    try:
        return POLICIES[name]
    except KeyError:
        raise ValueError(f"placement={name!r} is not one of {sorted(POLICIES)}") from None


__all__ = ["POLICIES", "NodeRecord", "Placement", "PlacementRequest", "get_policy"]
