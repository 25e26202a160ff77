"""Memory of a process tree, for the benchmarks that report it (``worker_memory``, ``peers``)."""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass

import psutil

MIB = 2**20


@dataclass(frozen=True)
class Footprint:
    """The memory of this process and the children measured with it, at one moment.

    Attributes:
        children_uss: Bytes private to the children (a loader's workers, stoker's template).
        tree_pss: Bytes of this process and the children, shared pages split between their users.
        processes: How many children were measured.
    """

    children_uss: int
    tree_pss: int
    processes: int


def footprint(before: Container[int] = ()) -> Footprint:
    """This process and its children (recursively) but those whose pid is in ``before``, measured now
    (a child that exits or may not be read meanwhile is passed over)."""
    me = psutil.Process()
    uss = pss = count = 0
    for proc in me.children(recursive=True):
        if proc.pid in before:
            continue
        try:
            info = proc.memory_full_info()
        except psutil.Error:
            continue
        uss += info.uss
        pss += info.pss
        count += 1
    return Footprint(uss, pss + me.memory_full_info().pss, count)
