"""Pickling a pipeline that holds multiprocessing Locks, Semaphores, Events or Values.

torch's DataLoader pickles the dataset while it starts its workers, which multiprocessing allows
for its synchronisation objects (they may only cross to a process "through inheritance"). stoker
pickles the pipeline once, before any worker starts (so one payload serves every worker, local or
Ray), so it stands in for the spawning process while it pickles: semaphores then travel by name,
as with spawn, and the anonymous shared-memory file behind a ``Value`` is reopened in the worker
through ``/proc/<trainer pid>/fd`` (Linux, same machine, while the trainer lives).
"""

from __future__ import annotations

import io
import os
from collections import ChainMap
from multiprocessing import context, reduction
from typing import Any

import cloudpickle


class ProcFd:
    """A file descriptor of the trainer, reopened in a worker process (Linux ``/proc``)."""

    def __init__(self, fd: int) -> None:
        self.pid = os.getpid()
        self.fd = fd

    def detach(self) -> int:
        return os.open(f"/proc/{self.pid}/fd/{self.fd}", os.O_RDWR)


class _Spawning:
    """What multiprocessing's reducers ask of the process being started."""

    def duplicate_for_child(self, fd: int) -> int:
        return fd

    def DupFd(self, fd: int) -> ProcFd:
        return ProcFd(fd)


def _reducers() -> dict[type, Any]:
    # Only multiprocessing's own (ctypes Values, heap arenas): torch registers reducers there too,
    # which would move every tensor of a dataset into shared memory.
    extra = reduction.ForkingPickler._extra_reducers  # type: ignore[attr-defined]
    return {t: r for t, r in extra.items() if getattr(r, "__module__", "").startswith("multiprocessing")}


def dumps(obj: Any) -> bytes:
    """``cloudpickle.dumps`` that also accepts multiprocessing's shared objects."""

    class Pickler(cloudpickle.Pickler):
        dispatch_table = ChainMap(_reducers(), cloudpickle.Pickler.dispatch_table)

    buf = io.BytesIO()
    previous = context.get_spawning_popen()
    context.set_spawning_popen(_Spawning())  # type: ignore[arg-type]  # duck-typed stand-in
    try:
        Pickler(buf, protocol=cloudpickle.DEFAULT_PROTOCOL).dump(obj)
    finally:
        context.set_spawning_popen(previous)
    return buf.getvalue()
