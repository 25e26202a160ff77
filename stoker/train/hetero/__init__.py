"""Heterogeneous GPU allocation: deal each task's batch to devices of different speed and memory.

Pure, torch-free parts (records, cost model, policies, Gavel profiles) import eagerly; the
torch-backed runtime (:class:`HeteroDataParallel`) and simulated devices import on first use.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from stoker.train.hetero.cost import Evaluation, evaluate
from stoker.train.hetero.policies import POLICIES, allocation_policy, get_policy
from stoker.train.hetero.records import Allocation, DeviceSpec, InfeasibleError, Profile, Share, TaskSpec


def allocate(tasks: Sequence[TaskSpec], devices: Sequence[DeviceSpec], policy: str = "balanced") -> Allocation:
    """Which devices serve which task and each device's share of each global batch.

    The entry point for trainers (the cluster scheduler's ``gavel`` placement does not call it: it
    places whole jobs on GPU types). Pure: reads only its arguments.

    Args:
        tasks: Tasks with their global batch (samples/step) and profiles per device type.
        devices: Devices with their type and memory (bytes).
        policy: A name in :data:`POLICIES`: ``"balanced"`` (default), ``"equal"``, ``"per-type"``,
            ``"optimal"`` (needs scipy).

    Raises:
        InfeasibleError: The batches cannot fit the devices' memory (the message names the task).
    """
    return allocation_policy(policy)(tasks, devices)


_LAZY = {
    "HeteroDataParallel": "stoker.train.hetero.runtime",
    "SimulatedDevice": "stoker.train.hetero.devices",
    "device_spec": "stoker.train.hetero.devices",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "POLICIES",
    "Allocation",
    "DeviceSpec",
    "Evaluation",
    "HeteroDataParallel",
    "InfeasibleError",
    "Profile",
    "Share",
    "SimulatedDevice",
    "TaskSpec",
    "allocate",
    "allocation_policy",
    "device_spec",
    "evaluate",
    "get_policy",
]
