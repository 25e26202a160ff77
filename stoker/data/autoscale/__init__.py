"""Autoscaling policies for the data workers: pure functions of plain records, one per file.

The Loader calls the policy selected by name every ``interval`` seconds from ``__next__``
with a :class:`ScalingSignal`; the policy returns a :class:`ScalingDecision`. Register a new
policy by adding it to ``POLICIES``.
"""

from __future__ import annotations

from collections.abc import Callable

from stoker.data.autoscale.base import ScalingDecision, ScalingSignal
from stoker.data.autoscale.throughput import throughput_policy

Policy = Callable[[ScalingSignal], ScalingDecision]

POLICIES: dict[str, Policy] = {"throughput": throughput_policy}


def get_policy(name: str) -> Policy:
    try:
        return POLICIES[name]
    except KeyError:
        raise ValueError(f"autoscaler={name!r} is not one of {sorted(POLICIES)}") from None


__all__ = ["POLICIES", "ScalingDecision", "ScalingSignal", "get_policy"]
