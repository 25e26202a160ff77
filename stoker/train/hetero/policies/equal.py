"""Equal split (baseline): every task deals its global batch evenly over every device that can run it.

What data-parallel training does when it ignores that the devices differ. Used by
``stoker bench hetero`` and the tests as the reference the balanced policy should beat.
"""

from __future__ import annotations

from collections.abc import Sequence

from stoker.train.hetero.cost import check_memory, validate
from stoker.train.hetero.records import Allocation, DeviceSpec, Share, TaskSpec

NAME = "equal"


def split_evenly(total: int, names: Sequence[str]) -> list[tuple[str, int]]:
    """``total`` samples over ``names`` as evenly as whole samples allow (the first ones get the extra)."""
    base, extra = divmod(total, len(names))
    return [(n, base + (i < extra)) for i, n in enumerate(names) if base + (i < extra) > 0]


def allocate(tasks: Sequence[TaskSpec], devices: Sequence[DeviceSpec]) -> Allocation:
    """Even shares of every task over all devices of the types it was profiled on.

    Raises:
        InfeasibleError: An even share does not fit some device's memory.
    """
    validate(tasks, devices)
    shares = []
    for task in tasks:
        usable = [d.name for d in devices if task.profile(d.type) is not None]
        shares += [Share(task.name, name, n) for name, n in split_evenly(task.global_batch, usable)]
    allocation = Allocation(NAME, tuple(shares))
    check_memory(allocation, tasks, devices)
    return allocation
