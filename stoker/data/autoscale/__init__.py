"""Autoscaling policies for the data workers: pure functions of plain records, one per file.

The Loader calls the policy selected by name every ``interval`` seconds from ``__next__``
with a :class:`ScalingSignal`; the policy returns a :class:`ScalingDecision`. Register a new
policy by adding it to ``POLICIES``; :func:`autoscale_policy` looks one up by name.
"""

from __future__ import annotations

from collections.abc import Callable

from stoker.data.autoscale.base import ScalingDecision, ScalingSignal
from stoker.data.autoscale.throughput import throughput_policy
from stoker.registry import Registry

Policy = Callable[[ScalingSignal], ScalingDecision]

POLICIES: Registry[Policy] = Registry("autoscaler policy", {"throughput": throughput_policy})


def autoscale_policy(name: str) -> Policy:
    """The autoscaling policy called ``name`` (``Loader(autoscaler=name)``)."""
    return POLICIES.lookup(name)


get_policy = autoscale_policy  # the earlier name, kept for callers

__all__ = ["POLICIES", "ScalingDecision", "ScalingSignal", "autoscale_policy", "get_policy"]
