"""One task per device type (baseline): each task gets all devices of one type, none are shared across types.

The placement a type-aware but split-unaware scheduler makes (each job on a homogeneous group of
GPUs). Tries every map of tasks to device types and keeps the shortest round that fits memory;
within a type the batch is split evenly, which is balanced because the devices are alike.
Used by ``stoker bench hetero`` and the tests for comparison.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from stoker.train.hetero.cost import evaluate, validate
from stoker.train.hetero.policies.equal import split_evenly
from stoker.train.hetero.records import Allocation, DeviceSpec, InfeasibleError, Share, TaskSpec

NAME = "per-type"
_MAX_MAPS = 100_000  # types ** tasks maps are enumerated; beyond this the caller should use 'balanced'


def allocate(tasks: Sequence[TaskSpec], devices: Sequence[DeviceSpec]) -> Allocation:
    """Best map of tasks to device types; tasks mapped to the same type share its devices.

    Raises:
        InfeasibleError: No map fits in memory.
        ValueError: Too many maps to enumerate.
    """
    validate(tasks, devices)
    types = sorted({d.type for d in devices})
    if len(types) ** len(tasks) > _MAX_MAPS:
        raise ValueError(f"{len(types)} types ** {len(tasks)} tasks maps is too many; use policy 'balanced'")
    by_type = {k: [d.name for d in devices if d.type == k] for k in types}
    best: tuple[float, Allocation] | None = None
    for choice in itertools.product(types, repeat=len(tasks)):
        if any(t.profile(k) is None for t, k in zip(tasks, choice)):
            continue
        shares = [
            Share(t.name, name, n)
            for t, k in zip(tasks, choice)
            for name, n in split_evenly(t.global_batch, by_type[k])
        ]
        allocation = Allocation(NAME, tuple(shares))
        ev = evaluate(allocation, tasks, devices)
        if any(ev.device_memory_bytes[d.name] > d.memory_bytes for d in devices):
            continue
        if best is None or ev.round_s < best[0]:
            best = (ev.round_s, allocation)
    if best is None:
        raise InfeasibleError(
            f"no map of tasks {[t.name for t in tasks]} to whole device types {types} fits in memory; "
            "use policy 'balanced', which mixes types, or lower the global batches"
        )
    return best[1]
