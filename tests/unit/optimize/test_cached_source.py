"""The cache is exact by construction: every sample it fills is watched, the source read included.

Each case compares every epoch of the optimised pipeline with plain stoker (3 epochs, the same
seed): randomness the probe cannot see, in ``__getitem__`` or on a minority of samples, must never
be frozen into the cache.
"""

from __future__ import annotations

from typing import Any

import pytest

import stoker
from stoker.optimize.cache_store import MISS
from stoker.optimize.cached_source import CachedPrefix
from tests.common import optimize as fns
from tests.unit.optimize.conftest import identical

KINDS = ["torch", "numpy", "random"]


def epochs(pipe: stoker.Pipeline, n: int = 3, **kwargs: Any) -> tuple[list[list[Any]], Any]:
    """Every batch of ``n`` epochs in-process, and the optimiser's cache stats (None when off)."""
    with stoker.Loader(pipe, workers=0, seed=5, **kwargs) as loader:
        out = [list(loader) for _ in range(n)]
        report = loader.optimize_report
        stats = report.stats() if report is not None else None
        if report is not None:
            report.close()
    return out, stats


def differ_between_epochs(batches: list[list[Any]]) -> bool:
    return not identical([batches[0]], [batches[1]])


@pytest.mark.parametrize("rare", [False, True], ids=["every-sample", "rare-samples"])
@pytest.mark.parametrize("kind", KINDS)
def test_a_dataset_that_augments_in_getitem_is_never_replayed(kind, rare) -> None:
    data = fns.AugmentingDataset(24, kind, rare)
    pipe = stoker.from_dataset(data).shuffle(seed=1).map(fns.heavy_keep).map(fns.scale).batch(8)
    plain, _ = epochs(pipe)
    fast, stats = epochs(pipe, optimize=True)  # as a user would
    assert differ_between_epochs(plain)  # the data set really re-augments every epoch
    assert identical(plain, fast)
    if rare:  # the probe saw no draw, so a cache was made; filling saw one and stopped caching
        assert stats["cut"] == 0 and stats["drew"] >= 1
    else:  # the probe saw the read draw: nothing was cached
        assert stats["cut"] == -1


@pytest.mark.parametrize("kind", [*KINDS, "sample_rng", "sample_generator"])
def test_randomness_on_a_minority_of_samples_is_seen_while_filling(optimize_in, kind) -> None:
    pipe = (
        stoker.from_items(list(range(24)))
        .shuffle(seed=2)
        .map(fns.heavy)
        .map(fns.RareDraw(kind))
        .map(fns.heavy_keep)
        .map(fns.jitter)
        .batch(8)
    )
    new, report = optimize_in(pipe, strategies=["autocache"])
    cached = new.source.data
    assert isinstance(cached, CachedPrefix)
    # The probe (indices 0, 7, 15, 23) saw no draw, so its cut includes the rare op ...
    assert [op.name for op in cached.ops] == ["heavy", f"rare_{kind}", "heavy_keep"]
    plain, _ = epochs(pipe)
    with stoker.Loader(new, workers=0, seed=5) as loader:
        fast = [list(loader) for _ in range(3)]
    stats = report.stats()
    report.close()
    # ... but filling saw sample 4 draw: the cut moved in front of the rare op, and it stayed exact.
    assert identical(plain, fast)
    assert stats["cut"] == 1 and stats["drew"] >= 1
    assert stats["hits"] >= 24  # epochs 2-3 still read the cached `heavy` output


def test_an_op_seen_drawing_drops_the_entries_made_past_it(optimize_in) -> None:
    pipe = stoker.from_items(list(range(12))).map(fns.heavy).map(fns.RareDraw("numpy")).map(fns.heavy_keep)
    new, report = optimize_in(pipe, strategies=["autocache"])
    cached = new.source.data
    # Samples 0-3 fill at the full cut; sample 4 draws and lowers it.
    for i in range(4):
        with stoker.data.rng.seeded(5, 0, i):
            cached[i]
    assert cached.cut() == 3
    with stoker.data.rng.seeded(5, 0, 4):
        cached[4]
    assert cached.cut() == 1
    assert all(cached.store.get(i, 3) is not MISS for i in range(4))  # on disk, but no longer served:
    assert all(cached.store.get(i, cached.cut()) is MISS for i in range(4))
    # A fresh reader (another worker, a later epoch) uses the lowered cut and refills at it.
    other = CachedPrefix(cached.source, cached.ops, cached.store)
    assert other.cut() == 1
    report.close()


def test_a_declared_random_op_is_never_cached(optimize_in) -> None:
    from stoker.optimize.marks import mark

    def urandom_noise(rec: dict[str, Any]) -> dict[str, Any]:  # OS entropy: invisible to the watch
        import os

        return {**rec, "x": rec["x"] + os.urandom(1)[0]}

    pipe = stoker.from_items(list(range(12))).map(fns.heavy).map(mark(urandom_noise, random=True)).batch(4)
    new, report = optimize_in(pipe, strategies=["autocache"])
    assert [op.name for op in new.sample_ops()] == ["urandom_noise"]
    report.close()


def test_outside_a_loader_every_step_is_watched(optimize_in) -> None:
    """No sample key to run a sample again with: the fill watches after each step instead."""
    pipe = stoker.from_items(list(range(12))).map(fns.heavy).map(fns.RareDraw("torch")).map(fns.heavy_keep)
    new, report = optimize_in(pipe, strategies=["autocache"])
    cached = new.source.data
    want = [cached.compute(i) for i in range(6)]
    got = [cached[i] for i in range(6)]  # no seeded(): sample 4 draws from torch's global generator
    assert cached.cut() == 1 and [g["i"] for g in got] == [w["i"] for w in want]
    report.close()


def test_a_drawing_sample_leaves_the_generators_as_a_plain_run_would(optimize_in) -> None:
    """Finding the step that drew runs the sample again (up to that step); the ops after the cut must
    see the generators as the first run left them, past both draws."""
    import torch

    rare = fns.RareDraw("torch")
    pipe = stoker.from_items(list(range(12))).map(fns.heavy).map(rare).map(rare).map(fns.heavy_keep)
    new, report = optimize_in(pipe, strategies=["autocache"])
    cached = new.source.data
    with stoker.data.rng.seeded(5, 0, 4):
        cached.compute(4)
        want = torch.rand(4)
    with stoker.data.rng.seeded(5, 0, 4):
        cached[4]  # draws: not cached, located by a second run
        got = torch.rand(4)
    assert cached.cut() == 1 and torch.equal(got, want)
    report.close()


def test_a_new_epoch_reads_a_cut_another_process_lowered(optimize_in) -> None:
    pipe = stoker.from_items(list(range(12))).map(fns.heavy).map(fns.RareDraw("numpy")).map(fns.heavy_keep)
    new, report = optimize_in(pipe, strategies=["autocache"])
    cached = new.source.data
    other = CachedPrefix(cached.source, cached.ops, cached.store)  # another worker's reader
    for i in range(4):
        with stoker.data.rng.seeded(5, 0, i):
            other[i]
    with stoker.data.rng.seeded(5, 0, 4):
        cached[4]  # lowers the cut to 1 for every process
    with stoker.data.rng.seeded(5, 0, 5):
        other[5]
    with stoker.data.rng.seeded(5, 1, 0):
        other[0]  # epoch 2: hits alone would never look again
    assert other.cut() == 1
    report.close()
