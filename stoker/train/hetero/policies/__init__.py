"""Allocation policies: one strategy per module, each a pure function of plain records.

Every module named in :data:`POLICIES` defines ``allocate(tasks, devices) -> Allocation``. The table
is a constant (no registration on import), and modules are imported only when asked for, so the
scipy-backed ``optimal`` costs nothing to the callers that never use it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence

from stoker.train.hetero.records import Allocation, DeviceSpec, TaskSpec

Policy = Callable[[Sequence[TaskSpec], Sequence[DeviceSpec]], Allocation]

POLICIES: dict[str, str] = {
    "balanced": "stoker.train.hetero.policies.balanced",
    "equal": "stoker.train.hetero.policies.equal",
    "per-type": "stoker.train.hetero.policies.per_type",
    "optimal": "stoker.train.hetero.policies.optimal",
}


def get_policy(name: str) -> Policy:
    """The ``allocate`` function of the policy called ``name``."""
    if name not in POLICIES:
        raise ValueError(f"unknown allocation policy {name!r}; choose one of {sorted(POLICIES)}")
    return importlib.import_module(POLICIES[name]).allocate
