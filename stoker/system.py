"""Facts about the machine this process runs on, asked in one place."""

from __future__ import annotations

import os


def cpu_count() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one), at least 1.

    ``os.cpu_count()`` counts the machine's CPUs even when a container or ``taskset`` allows fewer,
    and sizing worker pools from it over-subscribes the CPUs the process actually has.
    """
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
