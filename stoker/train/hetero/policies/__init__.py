"""Allocation policies: one strategy per module, each a pure function of plain records.

Every module named in :data:`POLICIES` defines ``allocate(tasks, devices) -> Allocation``. The table
is a constant (no registration on import), and modules are imported only when asked for, so the
scipy-backed ``optimal`` costs nothing to the callers that never use it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from stoker.registry import Lazy, Registry
from stoker.train.hetero.records import Allocation, DeviceSpec, TaskSpec

Policy = Callable[[Sequence[TaskSpec], Sequence[DeviceSpec]], Allocation]

_HERE = "stoker.train.hetero.policies"
POLICIES: Registry[Policy] = Registry(
    "allocation policy",
    {
        "balanced": Lazy(f"{_HERE}.balanced", "allocate"),
        "equal": Lazy(f"{_HERE}.equal", "allocate"),
        "per-type": Lazy(f"{_HERE}.per_type", "allocate"),
        "optimal": Lazy(f"{_HERE}.optimal", "allocate"),
    },
)


def allocation_policy(name: str) -> Policy:
    """The ``allocate`` function of the policy called ``name``."""
    return POLICIES.lookup(name)


get_policy = allocation_policy  # the earlier name, kept for callers
