"""The source autocache puts in front of a pipeline: source + deterministic prefix, read through a cache.

Exact by construction: every sample that is computed (a miss) is watched
(:mod:`stoker.optimize.watch`) from its source read through the cached operators, and is stored
only if none of them drew from an RNG. Serving it later is then bit-identical to recomputing it:
its bytes do not depend on the key, and the operators after the cut see the generators exactly as
seeded, since nothing before them drew. When a step is seen drawing, the cut moves in front of it
for every process (entries made at the old cut are no longer served) and that sample is not
cached; a source read that draws ends caching altogether.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from stoker.data.pipeline import Op, Source
from stoker.data.rng import preserved_rngs, sample_key, seeded
from stoker.optimize.cache_store import MISS, CacheStore
from stoker.optimize.watch import Snapshot

_LOOK_EVERY = 16  # misses between looks for a cut another process lowered


class Dropped:
    """What the cache holds for a sample a prefix filter dropped (one instance per process)."""

    _instance: Dropped | None = None

    def __new__(cls) -> Dropped:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __reduce__(self) -> tuple[type, tuple[()]]:
        return (Dropped, ())

    def __repr__(self) -> str:
        return "Dropped"


def kept(value: Any) -> bool:
    """The filter that follows a cached prefix containing a filter."""
    return not isinstance(value, Dropped)


class PrefixError(Exception):
    """An operator of the cached prefix failed; names it (the executor reports the source read)."""


class CachedPrefix:
    """A map-style dataset: item ``i`` is the prefix's output for source item ``i``, cached.

    Runs in worker processes (it is pickled with the pipeline); each process opens the same
    cache folder, so what one worker wrote, every worker and every later epoch reads. The cache
    holds the output of the first ``cut`` ops (``cut <= len(ops)``); the ops after the cut run
    on every read.

    Args:
        source: The original source.
        ops: The prefix the pipeline expects this source to have applied.
        store: Where the outputs live.
    """

    def __init__(self, source: Source, ops: Sequence[Op], store: CacheStore) -> None:
        self.source = source
        self.ops = tuple(ops)
        self.store = store
        self._cut: int | None = None
        self._misses = 0
        self._epoch = -1

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_cut": None, "_misses": 0, "_epoch": -1}  # each process reads the shared cut itself

    def __len__(self) -> int:
        return len(self.source)

    @property
    def files(self) -> Sequence[str] | None:
        """The original file paths, so errors still name the file."""
        return self.source.data if self.source.kind == "files" else getattr(self.source.data, "files", None)

    def _run(self, op: Op, value: Any) -> Any:
        try:
            return op.fn(value)  # type: ignore[misc]
        except Exception as exc:
            raise PrefixError(f"{op.kind} {op.name!r} (cached prefix): {type(exc).__name__}: {exc}") from exc

    def _apply(self, ops: Sequence[Op], value: Any) -> Any:
        for op in ops:
            out = self._run(op, value)
            if op.kind == "filter":
                if not out:
                    return Dropped()
            else:
                value = out
        return value

    def compute(self, index: int) -> Any:
        """The prefix's output for ``index`` without the cache."""
        return self._apply(self.ops, self.source.get(index))

    def cut(self) -> int:
        """Ops whose output is cached (read from the cache folder once per process, lowered on a draw)."""
        if self._cut is None:
            self._cut = self.store.cut(len(self.ops))
            self.store.stats.note_cut(self._cut)
        return self._cut

    def _lower(self, level: int, index: int, step: str) -> None:
        self.store.stats.problem("drew", f"{step} drew from an RNG on sample {index}; it is not cached")
        if level < self.cut():
            self._cut = level
            self.store.lower_cut(level)

    def _fill(self, index: int, cut: int) -> Any:
        """Computes ``index``, and stores it if nothing in its cached part (read and ``cut`` ops) drew.

        One look at the generators for the whole cached part (each look costs about as much as a
        small op); only a sample that drew is run again, step by step, to find the step to cut in
        front of (:meth:`_locate`). Outside a Loader (no sample key to replay) every step is watched.
        """
        key = sample_key()
        if key is None:
            return self._fill_each(index, cut)
        before = Snapshot.take()
        value = self._apply(self.ops[:cut], self.source.get(index))
        if not before.drew_since():
            self.store.put(index, cut, value)
        else:
            self._locate(index, cut, key)
        return value if isinstance(value, Dropped) else self._apply(self.ops[cut:], value)

    def _locate(self, index: int, cut: int, key: tuple[int, int, int]) -> None:
        """Finds which step of ``index``'s cached part drew, by running it again under the same key, and
        moves the cut in front of it (the source read: caching ends).

        The generators are put back as the first run left them, so the ops after the cut see
        exactly what they would have; a draw the second run does not repeat ends caching (the safe
        side).
        """
        level, step = 0, f"a step of the cached part of {self.source.name!r} (not repeated when run again)"
        try:
            with preserved_rngs(), seeded(*key):
                before = Snapshot.take()
                value = self.source.get(index)
                if before.drew_since():
                    step = f"the source read of {self.source.name!r}"
                else:
                    for k, op in enumerate(self.ops[:cut]):
                        out = self._run(op, value)
                        if before.drew_since():
                            level, step = k, f"{op.kind} {op.name!r}"
                            break
                        if op.kind == "filter" and not out:
                            break
                        value = out if op.kind == "map" else value
        except Exception:  # failing when run again is the cache's problem, never the sample's
            level, step = 0, f"a step of the cached part of {self.source.name!r} (failed when run again)"
        self._lower(level, index, step)

    def _fill_each(self, index: int, cut: int) -> Any:
        """:meth:`_fill` watching after every step (no sample key: called outside a Loader)."""
        before = Snapshot.take()
        value = self.source.get(index)
        if before.drew_since():
            self._lower(0, index, f"the source read of {self.source.name!r}")
            return self._apply(self.ops, value)
        for level, op in enumerate(self.ops):
            if level == cut:
                self.store.put(index, cut, value)
                return self._apply(self.ops[cut:], value)
            out = self._run(op, value)
            if before.drew_since():
                self._lower(level, index, f"{op.kind} {op.name!r}")
                value = out if op.kind == "map" else value
                if op.kind == "filter" and not out:
                    return Dropped()
                return self._apply(self.ops[level + 1 :], value)
            if op.kind == "filter":
                if not out:
                    self.store.put(index, cut, Dropped())
                    return Dropped()
            else:
                value = out
        self.store.put(index, cut, value)
        return value

    def __getitem__(self, index: int) -> Any:
        key = sample_key()
        if key is not None and key[1] != self._epoch:
            # A new epoch: look again for a cut another process lowered, so no process serves entries
            # of an op seen drawing in an earlier epoch (hits alone would never look).
            self._epoch, self._cut = key[1], None
        cut = self.cut()
        if cut == 0:  # the source read itself draws: nothing is cached
            return self.compute(index)
        value = self.store.get(index, cut)
        if value is MISS:
            self.store.stats.read(hit=False)
            self._misses += 1
            if self._misses % _LOOK_EVERY == 0:
                # Another process may have lowered the cut: look again. Not on every miss (a listdir
                # each): an entry this process writes at the old cut is exact for its own sample (it
                # was watched) and readers of the lowered cut pass it over.
                self._cut = None
                cut = self.cut()
            return self.compute(index) if cut == 0 else self._fill(index, cut)
        self.store.stats.read(hit=True)
        return value if isinstance(value, Dropped) else self._apply(self.ops[cut:], value)
