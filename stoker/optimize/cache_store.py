"""The cache as append-only arenas and one index, in shared memory (``/dev/shm``) or on local disk.

A file per sample costs a create, a rename and, on read, an open and a close: on a decoded image
that was a fifth of epoch 1. Here each writer process appends its entries to its own arena file
(``arena-<id>.bin``, the id a hash of host and pid; one ``pwritev`` per entry, no new file) and
then publishes the entry in a shared index file (``index.bin``): one 32-byte slot per sample with
the arena, the offset, the length, the cut level and a checksum of the slot itself. A reader does two ``pread``\\ s. The
entry bytes carry their own length and checksum (:mod:`stoker.optimize.cache_entry`).

Why it stays correct:

- An entry is published only after its bytes are written, so a worker killed mid-write leaves
  bytes nobody points at; its earlier entries stay good for its replacement and a resumed run.
- Only one live process has a given host and pid, so no two processes append to the same arena
  (two whose ids collide, about one pair in 2**32, would only make damaged entries: recomputed).
- A slot read while it is being rewritten fails its own checksum and is a plain miss; any other
  problem (short or damaged entry, missing arena, vanished folder, full or read-only file system)
  is a counted miss (:class:`~stoker.optimize.cache_stats.StatsSink`), never an error.
- A removed folder (``report.close()``) is noticed on the next write (its index has no links
  left): the process closes its files so the memory is freed, and stops writing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import struct
import zlib
from typing import Any

from stoker.optimize.cache_entry import DamagedEntry, decode, encode, header
from stoker.optimize.cache_stats import StatsSink

MISS = object()
_CUTS = "cuts"  # subfolder of markers "<level>": the lowest is the cache's cut level
_INDEX = "index.bin"
_SLOT = struct.Struct("<IIQQQ")  # arena id (0: empty), level, offset, length, check of the first four
_CHECK_EVERY = 256  # reads between checks that the folder still exists
_FREE_EVERY = 16 << 20  # bytes written between looks at the file system's free space (statvfs)


def arena_id() -> int:
    """This process's arena number: a hash of host and pid, so processes of several machines can share a
    kept ``cache_dir`` on a network file system without appending to one file (0 means an empty slot)."""
    return zlib.crc32(f"{socket.gethostname()}:{os.getpid()}".encode()) or 1


def _check(pid: int, level: int, offset: int, length: int) -> int:
    return zlib.crc32(struct.pack("<IIQQ", pid, level, offset, length)) | 1 << 32


class CacheStore:
    """Entries ``0 <= index < capacity`` of one cached prefix, in arenas under ``root``.

    Args:
        root: The folder (created, with an index of ``capacity`` empty slots).
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
        index = os.path.join(root, _INDEX)
        fd = os.open(index, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if os.fstat(fd).st_size < capacity * _SLOT.size:
                os.ftruncate(fd, capacity * _SLOT.size)  # sparse: empty slots cost no memory
        finally:
            os.close(fd)
        self._open_files()

    def _open_files(self) -> None:
        self._pid = os.getpid()
        self._id = arena_id()
        self._index: int | None = None
        self._arenas: dict[int, int] = {}  # arena id -> fd
        self._end = -1  # where this process appends next in its own arena (-1: not opened)
        self._reads = 0
        self._unchecked = -1  # bytes written since free space was last looked at (-1: never)
        self._gone = False

    def __getstate__(self) -> dict[str, Any]:
        return {k: self.__dict__[k] for k in ("root", "capacity", "reserve_bytes", "stats")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._open_files()

    def __del__(self) -> None:
        self._close()

    def _close(self) -> None:
        fds = [*getattr(self, "_arenas", {}).values(), getattr(self, "_index", None)]
        for fd in fds:
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._arenas, self._index, self._end = {}, None, -1

    def _mine(self) -> None:
        if self._pid != os.getpid():  # a forked child: the parent's descriptors stay the parent's
            self._open_files()

    def _index_fd(self) -> int:
        if self._index is None:
            self._index = os.open(os.path.join(self.root, _INDEX), os.O_RDWR)
        return self._index

    def _vanished(self) -> bool:
        """True once the folder was removed; then frees this process's descriptors."""
        if not self._gone and os.fstat(self._index_fd()).st_nlink == 0:
            self._gone = True
            self._close()
        return self._gone

    def _slot(self, index: int) -> tuple[int, int, int, int] | None:
        raw = os.pread(self._index_fd(), _SLOT.size, index * _SLOT.size)
        if len(raw) != _SLOT.size:
            return None
        pid, level, offset, length, check = _SLOT.unpack(raw)
        if pid == 0 or check != _check(pid, level, offset, length):
            return None  # empty, or read while being rewritten: a plain miss
        return pid, level, offset, length

    def _arena(self, arena: int) -> int:
        fd = self._arenas.get(arena)
        if fd is None:
            path = os.path.join(self.root, f"arena-{arena}.bin")
            fd = self._arenas[arena] = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        return fd

    def get(self, index: int, level: int) -> Any:
        """The value of ``index`` cached at ``level``, or :data:`MISS` (counted when damaged)."""
        self._mine()
        if self._gone or index >= self.capacity:
            return MISS
        try:
            self._reads += 1
            if self._reads % _CHECK_EVERY == 0 and self._vanished():
                return MISS
            slot = self._slot(index)
            if slot is None or slot[1] != level:
                return MISS
            pid, _, offset, length = slot
            data = bytearray(length)
            got = os.preadv(self._arena(pid), [data], offset)
        except FileNotFoundError:  # the folder or an arena is gone: a plain miss
            return MISS
        except OSError as exc:
            self.stats.problem("damaged", f"cannot read entry {index} under {self.root}: {exc}")
            return MISS
        try:
            if got != length:
                raise DamagedEntry(f"read {got} of {length} bytes")
            if header(data)[1] != level:
                raise DamagedEntry(f"made at cut {header(data)[1]}, indexed at {level}")
            return decode(data, index)
        except DamagedEntry as exc:
            self.stats.problem("damaged", f"entry {index} under {self.root} is damaged ({exc})")
            return MISS

    def put(self, index: int, level: int, value: Any) -> bool:
        """Appends ``value`` (made by ``level`` prefix ops) for ``index`` if it fits; True when written."""
        self._mine()
        if index >= self.capacity or self._gone:
            return False
        try:
            if self._vanished():
                raise FileNotFoundError(f"{self.root} was removed")
            pieces = encode(value, index, level)
            length = sum(memoryview(p).nbytes for p in pieces)
            if self.reserve_bytes and not self._room(length):
                return False
            fd = self._arena(self._id)
            if self._end < 0:
                self._end = os.fstat(fd).st_size
            offset = self._end
            self._end += length  # a failed write leaves a hole nobody points at
            if os.pwritev(fd, pieces, offset) != length:  # a short write: the file system is full
                raise OSError(f"short write to the arena under {self.root}")
            slot = _SLOT.pack(self._id, level, offset, length, _check(self._id, level, offset, length))
            os.pwrite(self._index_fd(), slot, index * _SLOT.size)
        except OSError as exc:
            self.stats.problem("write_failed", f"cannot write to {self.root}: {exc}")
            return False
        return True

    def _room(self, length: int) -> bool:
        """Whether ``length`` more bytes leave the reserve free. Looked up every :data:`_FREE_EVERY`
        bytes, not per entry: a ``statvfs`` per small entry was a tenth of its write, and a full file
        system still shows as a failed write."""
        if self._unchecked < 0 or self._unchecked + length > _FREE_EVERY:
            if shutil.disk_usage(self.root).free - length < self.reserve_bytes:
                return False
            self._unchecked = 0
        self._unchecked += length
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
        """Number of published entries (filled slots)."""
        self._mine()
        try:
            return sum(1 for i in range(self.capacity) if self._slot(i) is not None)
        except OSError:
            return 0

    def bytes_used(self) -> int:
        """Bytes in the arenas."""
        try:
            return sum(e.stat().st_size for e in os.scandir(self.root) if e.name.startswith("arena-"))
        except FileNotFoundError:
            return 0

    def remove(self) -> None:
        """Deletes every entry and the folder."""
        self._close()
        shutil.rmtree(self.root, ignore_errors=True)
