"""``stoker.optimize(pipe)``: runs the rewrite strategies and returns the new pipeline and a report."""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

import numpy as np
import torch

from stoker.data.pipeline import Pipeline
from stoker.optimize.base import Context, Options, Rewrite
from stoker.optimize.cache_stats import CacheStats
from stoker.optimize.chain import Chain
from stoker.optimize.registry import get_strategy, strategy_names


@dataclass
class OptimizeReport:
    """Every decision the optimiser took, applied or not.

    Attributes:
        before: The pipeline as given (``repr``).
        after: The rewritten pipeline (``repr``).
        rewrites: One record per decision, in the order taken.
        seconds: Wall time the optimiser spent probing and measuring.
    """

    before: str
    after: str
    rewrites: list[Rewrite] = field(default_factory=list)
    seconds: float = 0.0
    _owned: list[Any] = field(default_factory=list, repr=False)

    @property
    def applied(self) -> list[Rewrite]:
        return [r for r in self.rewrites if r.applied]

    @property
    def exact(self) -> bool:
        """Whether every applied rewrite keeps batches bit-identical."""
        return all(r.exact for r in self.applied)

    @property
    def gain_s(self) -> float:
        """Seconds per sample the applied rewrites save in steady state (sum of their gains)."""
        return sum(r.gain_s for r in self.applied)

    def explain(self) -> str:
        """Each rewrite, why, and its measured gain, as text."""
        lines = [
            f"before: {self.before}",
            f"after:  {self.after}",
            f"{len(self.applied)} rewrite(s) applied, {'all exact' if self.exact else 'SOME APPROXIMATE'}, "
            f"{self.gain_s * 1e3:.3f} ms/sample saved in steady state; probing took {self.seconds:.2f} s",
        ]
        lines += [f"  {r.line()}" for r in self.rewrites]
        return "\n".join(lines)

    def stats(self) -> dict[str, int]:
        """What the caches did, summed over every process that read them (see :class:`CacheStats`).

        Keys: ``hits``, ``computed``, ``damaged``, ``write_failed``, ``drew`` (samples not cached
        because their cached part drew from an RNG), ``cut`` (prefix ops cached; -1: no cache).
        """
        out = CacheStats()
        for owned in self._owned:
            out = out.add(owned.stats())
        return asdict(out)

    def close(self) -> None:
        """Removes the caches this optimisation created (a given ``cache_dir`` is kept)."""
        for store in self._owned:
            store.remove()
        self._owned.clear()


class Optimized(NamedTuple):
    """What :func:`optimize` returns: ``pipe, report = stoker.optimize(pipe)``."""

    pipeline: Pipeline
    report: OptimizeReport


def optimize(
    pipe: Pipeline,
    *,
    seed: int = 0,
    approximate: bool = False,
    cache_dir: str | None = None,
    cache_bytes: int | None = None,
    strategies: Sequence[str] | None = None,
    samples: int = 4,
    min_gain: float = 0.2,
    cache_version: str | None = None,
    content_hash: bool = False,
) -> Optimized:
    """Rewrites ``pipe`` to do less work per sample, keeping its batches bit-identical.

    Probes the operators on ``samples`` real source items, then runs each strategy (see
    :mod:`stoker.optimize.registry`); each applies only where it is exact (or, with
    ``approximate=True``, reports itself as approximate) and measured to pay.

    Args:
        pipe: The pipeline (not changed; pipelines are immutable).
        seed: Seed of the sample keys the probes use.
        approximate: Allow rewrites that change values slightly (reported as such).
        cache_dir: Folder for autocache (kept, so a resumed run reuses it); None makes a fresh
            folder in shared memory or on local disk, removed with :meth:`OptimizeReport.close`
            or when the pipeline is garbage-collected.
        cache_bytes: Upper bound of the cache, bytes (default: half of what is free).
        strategies: Names to run (default all, in registry order).
        samples: Source items to probe.
        min_gain: A rewrite must save at least this fraction of what it replaces.
        cache_version: Names the content of a source stoker cannot hash (a custom ``Dataset``),
            so a kept ``cache_dir`` may be reused across runs; change it when the data changes.
            Without it such a cache is private to this process.
        content_hash: Key a kept cache of files by their bytes, not only path, size and mtime.

    Returns:
        ``(pipeline, report)``; ``report.explain()`` lists each rewrite, why, and its gain.
    """
    if not isinstance(pipe, Pipeline):
        raise TypeError(f"optimize() takes a stoker Pipeline, got {type(pipe).__name__}")
    if pipe.source.kind == "stream":
        # Autocache and the probe address samples by index; a stream (from_shards, from_iterable)
        # has none until it is read, so it is returned as it is, saying why.
        why = "stream sources (from_shards, from_iterable) have no sample index to probe or cache by yet"
        skip = Rewrite("optimize", False, True, "leave the pipeline as it is", why)
        return Optimized(pipe, OptimizeReport(repr(pipe), repr(pipe), [skip]))
    if len(pipe) == 0:
        raise ValueError(f"optimize(): the source {pipe.source.name!r} is empty; nothing to probe")
    if not 0.0 <= min_gain < 1.0:
        raise ValueError(f"{min_gain=} should be in [0, 1)")
    names = strategy_names() if strategies is None else list(strategies)
    funcs = [get_strategy(n) for n in names]
    t0 = time.perf_counter()
    options = Options(seed, samples, approximate, cache_dir, cache_bytes, min_gain, cache_version, content_hash)
    ctx = Context(Chain.of(pipe), options)
    rewrites: list[Rewrite] = []
    threads = torch.get_num_threads()
    # The probe seeds the global RNGs per sample (as workers do); the trainer's own streams (model
    # initialisation, its shuffles) must not notice that the pipeline was optimised.
    states = (random.getstate(), np.random.get_state(), torch.get_rng_state())
    # Measure what a data worker sees: workers run torch on one thread (stoker.data.worker).
    torch.set_num_threads(1)
    try:
        if ctx.chain.sample_ops:
            for fn in funcs:
                rewrites += fn(ctx)
    finally:
        torch.set_num_threads(threads)
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])
    new = ctx.chain.to_pipeline()
    report = OptimizeReport(repr(pipe), repr(new), rewrites, time.perf_counter() - t0, ctx.owned)
    return Optimized(new, report)
