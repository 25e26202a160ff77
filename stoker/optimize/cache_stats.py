"""What a cache did, counted in every process that reads it, summed by ``report.stats()``.

Each process (the trainer, each worker) keeps its own counters and writes them to
``<stats folder>/<pid>.json`` (renamed into place): at once after a problem (a damaged entry, a
failed write, a sample that drew, a lowered cut), and every :data:`FLUSH_EVERY` reads otherwise,
so ``hits`` and ``computed`` may lag by that many reads per process. The stats folder lives apart
from the cache folder, so a vanished or read-only cache still gets its problems counted.
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from dataclasses import asdict, dataclass, fields

FLUSH_EVERY = 64
_WARNED: set[tuple[str, str]] = set()  # (stats folder, kind): warn once per process and problem


@dataclass
class CacheStats:
    """Counts of one cache, in samples.

    Attributes:
        hits: Read from the cache.
        computed: Recomputed (not yet cached, or any problem below).
        damaged: Entries found short, long, flipped or unreadable (recomputed).
        write_failed: Entries that could not be written (full, read-only or vanished folder).
        drew: Samples not cached because their cached part drew from an RNG.
        cut: Prefix operators cached (lowered when one is seen drawing); -1 when unknown.
    """

    hits: int = 0
    computed: int = 0
    damaged: int = 0
    write_failed: int = 0
    drew: int = 0
    cut: int = -1

    def add(self, other: CacheStats) -> CacheStats:
        cuts = [c for c in (self.cut, other.cut) if c >= 0]
        return CacheStats(
            self.hits + other.hits,
            self.computed + other.computed,
            self.damaged + other.damaged,
            self.write_failed + other.write_failed,
            self.drew + other.drew,
            min(cuts) if cuts else -1,
        )


class StatsSink:
    """This process's counters of one cache, written under ``folder``.

    Args:
        folder: The stats folder (made by autocache; None counts in memory only).
    """

    def __init__(self, folder: str | None) -> None:
        self.folder = folder
        self.pid = os.getpid()
        self.counts = CacheStats()
        self._reads = 0

    def __getstate__(self) -> dict[str, object]:
        return {"folder": self.folder}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__(state["folder"])  # type: ignore[misc, arg-type]

    def _mine(self) -> CacheStats:
        if self.pid != os.getpid():  # a forked child starts its own count
            self.pid, self.counts, self._reads = os.getpid(), CacheStats(), 0
        return self.counts

    def read(self, hit: bool) -> None:
        c = self._mine()
        if hit:
            c.hits += 1
        else:
            c.computed += 1
        self._reads += 1
        if self._reads % FLUSH_EVERY == 0:
            self.flush()

    def problem(self, kind: str, message: str) -> None:
        """Counts one ``kind`` (a :class:`CacheStats` field), warns once per process, writes at once."""
        c = self._mine()
        setattr(c, kind, getattr(c, kind) + 1)
        if (str(self.folder), kind) not in _WARNED:
            _WARNED.add((str(self.folder), kind))
            warnings.warn(f"stoker autocache: {message} (recomputed; counted in stats()['{kind}'])", stacklevel=3)
        self.flush()

    def note_cut(self, cut: int) -> None:
        """Records the cut level this process uses (written when it changes)."""
        if self._mine().cut != cut:
            self.counts.cut = cut
            self.flush()

    def flush(self) -> None:
        if self.folder is None:
            return
        tmp = os.path.join(self.folder, f".{self.pid}.tmp")
        with contextlib.suppress(OSError):  # the folder is gone (report closed): nothing to count into
            with open(tmp, "w") as f:
                json.dump(asdict(self._mine()), f)
            os.replace(tmp, os.path.join(self.folder, f"{self.pid}.json"))


def total(folder: str, extra: CacheStats | None = None) -> CacheStats:
    """The counts of every process that wrote under ``folder``, plus ``extra`` (this process's, unflushed)."""
    out = CacheStats()
    names = {f.name for f in fields(CacheStats)}
    try:
        files = [n for n in os.listdir(folder) if n.endswith(".json")]
    except OSError:
        files = []
    for name in files:
        if extra is not None and name == f"{os.getpid()}.json":
            continue
        with contextlib.suppress(OSError, ValueError):
            with open(os.path.join(folder, name)) as f:
                data = json.load(f)
            out = out.add(CacheStats(**{k: int(v) for k, v in data.items() if k in names}))
    return out.add(extra) if extra is not None else out
