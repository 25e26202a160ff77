"""One file per cached sample, in shared memory (``/dev/shm``) or on local disk.

Writes go to a temporary name and are renamed into place, so a worker killed mid-write leaves no
half entry, and entries written by a worker that died later are still good for its replacement
and for a resumed run. Each read gets its own buffer (a function that writes into its input
cannot spoil the cache) and is checked against the entry's length and checksum
(:mod:`stoker.optimize.cache_entry`).

Every cache problem is a miss, never an error: a missing, short, damaged or misplaced entry, a
vanished folder, a full or read-only file system. The caller recomputes the sample; the problem is
counted in :class:`~stoker.optimize.cache_stats.CacheStats` and warned about once per process.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from typing import Any

from stoker.optimize.cache_entry import DamagedEntry, decode, encode, header
from stoker.optimize.cache_stats import StatsSink

MISS = object()
_CUTS = "cuts"  # subfolder of markers "<level>": the lowest is the cache's cut level


class CacheStore:
    """Entries ``0 <= index < capacity`` of one cached prefix, as files under ``root``.

    Args:
        root: The folder (created).
        capacity: Indices at or above this are never stored (the cache was sized to fit).
        reserve_bytes: Stop writing when the file system has less than this free, bytes.
        stats: Where this process counts hits and problems (None: in memory only).
    """

    def __init__(self, root: str, capacity: int, reserve_bytes: int = 0, stats: StatsSink | None = None) -> None:
        self.root = root
        self.capacity = capacity
        self.reserve_bytes = reserve_bytes
        self.stats = stats if stats is not None else StatsSink(None)
        os.makedirs(os.path.join(root, _CUTS), exist_ok=True)

    def _path(self, index: int) -> str:
        return os.path.join(self.root, f"{index}.entry")

    def get(self, index: int, level: int) -> Any:
        """The value of ``index`` cached at ``level``, or :data:`MISS` (counted when damaged)."""
        try:
            with open(self._path(index), "rb", buffering=0) as f:
                size = os.fstat(f.fileno()).st_size
                data = bytearray(size)
                got = f.readinto(data)
        except FileNotFoundError:  # not cached yet, or the folder is gone: both are plain misses
            return MISS
        except OSError as exc:
            self.stats.problem("damaged", f"cannot read {self._path(index)}: {exc}")
            return MISS
        try:
            if got != size:
                raise DamagedEntry(f"read {got} of {size} bytes")
            if header(data)[1] != level:  # made at another cut: dropped, recomputed at this one
                return MISS
            return decode(data, index)
        except DamagedEntry as exc:
            self.stats.problem("damaged", f"entry {self._path(index)} is damaged ({exc})")
            return MISS

    def put(self, index: int, level: int, value: Any) -> bool:
        """Stores ``value`` (made by ``level`` prefix ops) for ``index`` if it fits; True when written."""
        if index >= self.capacity:
            return False
        tmp = os.path.join(self.root, f".{index}.{os.getpid()}.tmp")
        try:
            if self.reserve_bytes and shutil.disk_usage(self.root).free < self.reserve_bytes:
                return False
            pieces = encode(value, index, level)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                want = sum(memoryview(p).nbytes for p in pieces)
                if os.writev(fd, pieces) != want:  # a short write: the file system is full
                    raise OSError(f"short write to {tmp}")
            finally:
                os.close(fd)
            os.replace(tmp, self._path(index))
        except OSError as exc:  # full, read-only, or the folder was removed: recompute next time
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            self.stats.problem("write_failed", f"cannot write to {self.root}: {exc}")
            return False
        return True

    def cut(self, ops: int) -> int:
        """The cut level: ``ops`` unless a lower one was marked (an op at that level was seen drawing)."""
        try:
            marks = [int(n) for n in os.listdir(os.path.join(self.root, _CUTS)) if n.isdigit()]
        except OSError:
            marks = []
        return min([ops, *marks])

    def lower_cut(self, level: int) -> None:
        """Marks ``level`` as the highest cut from now on, for every process reading this cache."""
        with contextlib.suppress(OSError):
            with open(os.path.join(self.root, _CUTS, str(level)), "w"):
                pass
        self.stats.note_cut(level)

    def entries(self) -> int:
        """Number of complete entries on disk."""
        try:
            return sum(1 for n in os.listdir(self.root) if n.endswith(".entry"))
        except FileNotFoundError:
            return 0

    def bytes_used(self) -> int:
        try:
            return sum(e.stat().st_size for e in os.scandir(self.root) if e.name.endswith(".entry"))
        except FileNotFoundError:
            return 0

    def remove(self) -> None:
        """Deletes every entry and the folder."""
        shutil.rmtree(self.root, ignore_errors=True)
