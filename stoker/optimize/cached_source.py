"""The source autocache puts in front of a pipeline: source + deterministic prefix, read through a cache."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from stoker.data.pipeline import Op, Source
from stoker.optimize.cache_store import MISS, CacheStore


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
    cache folder, so what one worker wrote, every worker and every later epoch reads.

    Args:
        source: The original source.
        ops: The deterministic prefix (maps and filters that read no RNG).
        store: Where the outputs live.
    """

    def __init__(self, source: Source, ops: Sequence[Op], store: CacheStore) -> None:
        self.source = source
        self.ops = tuple(ops)
        self.store = store

    def __len__(self) -> int:
        return len(self.source)

    @property
    def files(self) -> Sequence[str] | None:
        """The original file paths, so errors still name the file."""
        return self.source.data if self.source.kind == "files" else getattr(self.source.data, "files", None)

    def compute(self, index: int) -> Any:
        """The prefix's output for ``index`` without the cache."""
        value = self.source.get(index)
        for op in self.ops:
            try:
                out = op.fn(value)  # type: ignore[misc]
            except Exception as exc:
                raise PrefixError(f"{op.kind} {op.name!r} (cached prefix): {type(exc).__name__}: {exc}") from exc
            if op.kind == "filter":
                if not out:
                    return Dropped()
            else:
                value = out
        return value

    def __getitem__(self, index: int) -> Any:
        value = self.store.get(index)
        if value is MISS:
            value = self.compute(index)
            self.store.put(index, value)
        return value
