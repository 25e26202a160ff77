"""Where the Ray backend starts a new data worker: pure functions of plain records, one per file.

The Ray pool calls the policy selected by name (``Loader(..., backend="ray", placement=NAME)``)
each time it adds a worker, with a :class:`PlacementRequest` describing the live nodes; the
policy returns a :class:`Placement`. Register a new policy by adding it to ``POLICIES``;
:func:`worker_placement` looks one up by name.
"""

from __future__ import annotations

from collections.abc import Callable

from stoker.backends.placement.base import NodeRecord, Placement, PlacementRequest
from stoker.backends.placement.free_cpus import free_cpus_policy
from stoker.backends.placement.spread import spread_policy
from stoker.registry import Registry

Policy = Callable[[PlacementRequest], Placement]

POLICIES: Registry[Policy] = Registry(
    "worker placement policy", {"free_cpus": free_cpus_policy, "spread": spread_policy}
)


def worker_placement(name: str) -> Policy:
    """The policy called ``name`` that places new Ray data workers (``Loader(placement=name)``)."""
    return POLICIES.lookup(name)


get_policy = worker_placement  # the earlier name, kept for callers

__all__ = ["POLICIES", "NodeRecord", "Placement", "PlacementRequest", "get_policy", "worker_placement"]
