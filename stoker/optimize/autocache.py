"""Autocache: cache the output of the pipeline's deterministic prefix, when reading it back is cheaper.

The deterministic prefix is the source read and every operator before the first one that reads
the RNG or varies with the sample key on the probe samples (:mod:`stoker.optimize.probe`), or is
declared with ``mark(fn, random=True)``. The probe only chooses where to cut; exactness does not
rest on it: every sample the cache fills is watched from its source read on, and a sample whose
cached part drew is not cached (:mod:`stoker.optimize.cached_source`). Epoch 2 on reads the
bytes the prefix produced, so batches are bit-identical to recomputing them.

Where to cut: every point inside the prefix is a candidate; for each, the probe outputs are
written to the cache's medium and read back, and the cut with the lowest measured cost (read
back + the prefix operators left after it) wins, if it saves at least ``min_gain`` of the
measured recompute cost and the saving per sample exceeds the measured cost of writing the entry
(so the cache pays back within one epoch after the first). Where: shared memory (``/dev/shm``) when the whole cache fits in half
of what is free there (and in RAM), else local disk; a cache that does not fit keeps the first
indices that do. A given ``cache_dir`` is kept (a resumed run reuses it), under a folder named
after what the cache was made from (:mod:`stoker.optimize.identity`: the source's files or bytes
and the cached operators' code), so a changed input never reads an old entry.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import statistics
import tempfile
import time
import uuid
import weakref
from dataclasses import dataclass
from typing import Any

from stoker.data.pipeline import Op, Source
from stoker.optimize.base import Context, Rewrite
from stoker.optimize.cache_entry import FORMAT
from stoker.optimize.cache_stats import CacheStats, StatsSink, total
from stoker.optimize.cache_store import CacheStore
from stoker.optimize.cached_source import CachedPrefix, Dropped, kept
from stoker.optimize.identity import ops_identity, source_identity
from stoker.optimize.probe import GONE, OpFacts, shifted
from stoker.optimize.values import nbytes

NAME = "autocache"
SHARE_OF_FREE = 0.5  # never fill more than this share of the free space (others need it too)


def _free(root: str) -> int:
    free = shutil.disk_usage(root).free
    if root.startswith("/dev/shm"):
        import psutil  # tmpfs reports its size limit; pages come out of RAM

        free = min(free, psutil.virtual_memory().available)
    return int(free)


def _roots() -> list[str]:
    return [r for r in ("/dev/shm", tempfile.gettempdir()) if os.path.isdir(r)]


@dataclass
class _Owned:
    """A cache the report answers for: its counts, and its folder when the optimisation made it."""

    store: CacheStore
    remove_folder: bool

    def stats(self) -> CacheStats:
        return total(str(self.store.stats.folder), self.store.stats.counts)

    def remove(self) -> None:
        if self.remove_folder:
            self.store.remove()
        shutil.rmtree(str(self.store.stats.folder), ignore_errors=True)


@dataclass
class _Cut:
    k: int  # ops[:k] are cached
    read_s: float  # seconds per sample to read one entry back
    write_s: float  # seconds per sample to write one entry (paid once, in the first epoch)
    rest_s: float  # prefix ops left after the cut, seconds per sample
    entry_bytes: float

    @property
    def cost_s(self) -> float:
        return self.read_s + self.rest_s


def _entries(ctx: Context, k: int) -> list[tuple[int, Any]]:
    p = ctx.probe
    return [(i, Dropped() if v is GONE else v) for i, v in zip(p.indices, p.values[k])]


def _measure(ctx: Context, k: int, n: int, root: str) -> _Cut:
    entries = _entries(ctx, k)
    capacity = max(i for i, _ in entries) + 1
    store = CacheStore(os.path.join(root, f"stoker-probe-{os.getpid()}-{uuid.uuid4().hex[:8]}"), capacity)
    try:
        writes = []
        for i, v in entries:
            t0 = time.perf_counter()
            store.put(i, k, v)
            writes.append(time.perf_counter() - t0)
        times = []
        for i, _ in entries:
            best = float("inf")
            for _ in range(3):
                t0 = time.perf_counter()
                store.get(i, k)
                best = min(best, time.perf_counter() - t0)
            times.append(best)
        size = store.bytes_used() / max(1, len(entries))
    finally:
        store.remove()
    rest = sum(f.cost_s for f in ctx.probe.ops[k:n])
    return _Cut(k, statistics.median(times), statistics.median(writes), rest, size)


def candidates(ctx: Context, n: int) -> list[int]:
    """The cuts worth measuring: the deepest, and each earlier one whose entries are smaller than every
    deeper cut's. An earlier cut with entries as big reads back no cheaper and leaves more ops to run
    after it, so measuring it (writing and reading probe entries) would only delay the first batch.
    """
    sizes = {k: statistics.fmean(nbytes(v) for v in ctx.probe.values[k] if v is not GONE) for k in range(1, n + 1)}
    keep, smallest = [], float("inf")
    for k in range(n, 0, -1):
        if k == n or sizes[k] < smallest:
            keep.append(k)
        smallest = min(smallest, sizes[k])
    return sorted(keep)


def _shared_root() -> str:
    return _roots()[0] if _roots() else tempfile.gettempdir()


def _private(root: str, what: str) -> str:
    # Named like every trainer-owned shm file (stoker.backends.lifeline) so that a new Loader reaps the
    # folder of a trainer that was killed before it could remove it.
    return os.path.join(root, f"stoker-p{os.getpid()}-{what}-{uuid.uuid4().hex[:8]}")


def _kept_name(source: str | None, ops: list[Op]) -> str | None:
    """The folder name of a kept cache, or None when the source or an op has no identity."""
    code = ops_identity(ops)
    if source is None or code is None:
        return None
    # The entry format is part of the name: a kept cache of another stoker version is not read (every
    # entry would be a counted, warned-about miss), it is left alone and a new one is made beside it.
    return hashlib.sha1(f"{FORMAT}\n{source}\n{code}".encode()).hexdigest()[:20]


def _kept_folder(ctx: Context, ops: list[Op], source: str | None) -> tuple[str, bool, str]:
    """(folder, owned, note) under the user's ``cache_dir``: named after the cache's identity."""
    root = str(ctx.options.cache_dir)
    name = _kept_name(source, ops)
    if name is None:
        if source is None:
            why = f"{type(ctx.chain.source.data).__name__} has no content identity; name it with cache_version="
        else:
            why = "an op holds a value that does not pickle, so the ops have no identity"
        return _private(root, "cache"), True, f"private to this process: {why}"
    return os.path.join(root, name), False, "kept for resumes"


def _kept_cut(ctx: Context, cuts: list[_Cut], source: str | None) -> _Cut | None:
    """The cut of a cache a run before this one left in ``cache_dir`` for this same input, if any.

    A resumed run keeps that cut even where its own (noisy) timings would pick another, so it
    reads the entries already made instead of starting a new cache.
    """
    if ctx.options.cache_dir is None or source is None:
        return None
    for cut in cuts:
        name = _kept_name(source, ctx.chain.sample_ops[: cut.k])
        if name is not None and os.path.exists(os.path.join(ctx.options.cache_dir, name, "index.bin")):
            return cut
    return None


def _place(ctx: Context, cut: _Cut, ops: list[Op], source: str | None) -> tuple[str, int, int, bool, str]:
    """(folder, capacity in samples, reserve bytes, owned, note) for the cache."""
    n = len(ctx.chain.source)
    limit = ctx.options.cache_bytes
    if ctx.options.cache_dir is not None:
        root = ctx.options.cache_dir
        os.makedirs(root, exist_ok=True)
        folder, owned, note = _kept_folder(ctx, ops, source)
    else:
        best = None
        for r in _roots():
            budget = SHARE_OF_FREE * _free(r) if limit is None else min(limit, SHARE_OF_FREE * _free(r))
            cap = min(n, int(budget // max(1.0, cut.entry_bytes)))
            if best is None or cap > best[1]:
                best = (r, cap)
            if cap >= n:
                break
        root = best[0] if best else tempfile.gettempdir()
        folder, owned, note = _private(root, "cache"), True, "removed with the report"
    free = _free(root)
    budget = SHARE_OF_FREE * free if limit is None else min(limit, SHARE_OF_FREE * free)
    capacity = min(n, int(budget // max(1.0, cut.entry_bytes)))
    return folder, capacity, int(free - budget), owned, note


def apply(ctx: Context) -> list[Rewrite]:
    chain, facts = ctx.chain, ctx.probe.ops
    if isinstance(chain.source.data, CachedPrefix):
        return [Rewrite(NAME, False, True, "no second cache", "the source is already cached")]
    n = 0
    while n < len(facts) and facts[n].deterministic:
        n += 1
    if ctx.probe.read_drew:
        why = f"the source read of {chain.source.name!r} drew from an RNG on a probe sample"
        return [Rewrite(NAME, False, True, "cache nothing", why)]
    if n == 0:
        first = facts[0] if facts else None
        why = f"the first op {first.name!r} {first.why}" if first else "the pipeline has no per-sample op"
        return [Rewrite(NAME, False, True, "cache nothing", why)]
    compute = ctx.probe.read_s + sum(f.cost_s for f in facts[:n])
    root = _shared_root()
    cuts = [_measure(ctx, k, n, root) for k in candidates(ctx, n)]
    source = None
    if ctx.options.cache_dir is not None:
        source = source_identity(chain.source, ctx.options.cache_version, ctx.options.content_hash)
    earlier = _kept_cut(ctx, cuts, source)
    cut = earlier or min(cuts, key=lambda c: c.cost_s)
    names = [op.name for op in chain.sample_ops[: cut.k]]
    figures = (
        f"recompute {compute * 1e3:.3f} ms/sample, cached {cut.cost_s * 1e3:.3f} "
        f"(read back {cut.read_s * 1e3:.3f}, write once {cut.write_s * 1e3:.3f})"
    )
    if earlier is not None:
        figures += "; the cut of the cache an earlier run left in cache_dir"
    elif cut.cost_s > (1 - ctx.options.min_gain) * compute:
        return [Rewrite(NAME, False, True, f"cache nothing (best cut after {names})", f"not cheaper: {figures}")]
    if earlier is None and compute - cut.cost_s < cut.write_s:
        why = f"{figures}, but writing costs {cut.write_s * 1e3:.3f} ms/sample: it would not pay back in one epoch"
        return [Rewrite(NAME, False, True, f"cache nothing (best cut after {names})", why)]
    prefix = chain.sample_ops[: cut.k]
    try:
        folder, capacity, reserve, owned, note = _place(ctx, cut, prefix, source)
        if capacity < 1:
            return [Rewrite(NAME, False, True, "cache nothing", f"no room: {cut.entry_bytes:.0f} B/sample")]
        stats = StatsSink(_private(_shared_root(), "cachestats"))
        os.makedirs(str(stats.folder))
        store = CacheStore(folder, capacity, reserve, stats)
    except OSError as exc:  # a read-only or full cache location: run as if not optimised
        return [Rewrite(NAME, False, True, "cache nothing", f"cannot make the cache folder: {exc}")]
    # The probe already made the prefix's output for its samples, each watched (no draw, the same
    # bytes under another key): stored now, the first epoch does not compute them again.
    if earlier is None:  # (a kept cache from an earlier run has them)
        for index, value in _entries(ctx, cut.k):
            store.put(index, cut.k, value)
    cached = CachedPrefix(chain.source, prefix, store)
    # Only the creating process owns these (the finalizer is not pickled with the pipeline).
    weakref.finalize(cached, shutil.rmtree, str(stats.folder), True)
    ctx.owned.append(_Owned(store, owned))
    if owned:
        weakref.finalize(cached, store.remove)
    chain.source = Source("dataset", cached, f"cache({chain.source.name})")
    rest = chain.sample_ops[cut.k :]
    lead = None
    if any(op.kind == "filter" for op in prefix):
        rest = [Op("filter", kept, "cached-filter"), *rest]
        sizes = [nbytes(v) for v in ctx.probe.values[cut.k] if v is not GONE]
        why = "drops what the cached prefix dropped"
        lead = OpFacts("cached-filter", "filter", False, True, 0.0, statistics.fmean(sizes) if sizes else 0.0, why)
    chain.sample_ops = rest
    # The new chain's probe follows from this one (the prefix read no RNG): probing it again would
    # run every op after the cut once more, a fixed cost the first epoch pays (Loader(optimize=True)).
    ctx.changed(shifted(ctx.probe, cut.k, cut.read_s, lead, Dropped()))
    where = f"{folder} ({capacity}/{len(cached)} samples, {cut.entry_bytes / 1e3:.1f} kB each; {note})"
    return [
        Rewrite(
            NAME,
            True,
            True,
            f"cache the output of read+{names} in {where}",
            f"{'every op up to there reads no RNG: ' + facts[cut.k - 1].why}; {figures}",
            gain_s=(compute - cut.cost_s) * capacity / len(cached),
        )
    ]
