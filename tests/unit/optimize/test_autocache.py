"""Autocache: caches the deterministic prefix only, delivers identical batches, and is reused."""

from __future__ import annotations

from typing import Any

import pytest

import stoker
from stoker.optimize.cached_source import CachedPrefix
from tests.common import optimize as fns
from tests.unit.optimize.conftest import identical, run


def pipeline(n: int = 24, *ops) -> stoker.Pipeline:
    pipe = stoker.from_items(list(range(n))).shuffle(seed=1)
    for op in ops or (fns.heavy, fns.jitter, fns.scale):
        pipe = pipe.map(op)
    return pipe.batch(8)


def applied(report, name: str = "autocache") -> list:
    return [r for r in report.rewrites if r.strategy == name and r.applied]


def test_the_deterministic_prefix_is_cached_and_batches_are_identical(optimize_in, tmp_path) -> None:
    pipe = pipeline()
    new, report = optimize_in(pipe, strategies=["autocache"])
    assert isinstance(new.source.data, CachedPrefix)
    assert [op.name for op in new.sample_ops()] == ["jitter", "scale"]
    (rw,) = applied(report)
    assert rw.exact and "heavy" in rw.what and rw.gain_s > 0
    assert identical(run(pipe, 3), run(new, 3))


def test_epoch_two_reads_the_cache_instead_of_recomputing(optimize_in, tmp_path) -> None:
    log = str(tmp_path / "calls")
    pipe = pipeline(24, fns.Counted(fns.heavy, log), fns.jitter)
    new, _ = optimize_in(pipe, strategies=["autocache"])
    probed = fns.calls(log)
    run(new, 1)
    assert fns.calls(log) - probed <= 24  # epoch 1 computes what the probe did not
    after_first = fns.calls(log)
    run(new, 2)
    assert fns.calls(log) == after_first


def test_a_fresh_optimisation_with_the_same_cache_dir_reuses_the_entries(tmp_path) -> None:
    log = str(tmp_path / "calls")
    pipe = pipeline(16, fns.Counted(fns.heavy, log), fns.jitter)
    first, _ = stoker.optimize(pipe, strategies=["autocache"], cache_dir=str(tmp_path / "c"))
    want = run(first, 1)
    # A resumed run optimises again (new probe calls) but computes no sample in its epochs.
    second, _ = stoker.optimize(pipe, strategies=["autocache"], cache_dir=str(tmp_path / "c"))
    before = fns.calls(log)
    assert identical(run(second, 1), want)
    assert fns.calls(log) == before


def test_a_map_reading_the_rng_first_leaves_nothing_to_cache(optimize_in) -> None:
    rng_first = stoker.from_items([fns.heavy(i) for i in range(16)]).map(fns.jitter).map(fns.scale).batch(4)
    new, report = optimize_in(rng_first, strategies=["autocache"])
    assert not applied(report)
    assert "jitter" in report.rewrites[0].why and new.source is rng_first.source


def test_deterministic_ops_after_an_rng_user_are_never_cached(optimize_in) -> None:
    pipe = pipeline(16, fns.heavy, fns.jitter, fns.heavy_record)
    new, _ = optimize_in(pipe, strategies=["autocache"])
    assert [op.name for op in new.source.data.ops] == ["heavy"]
    assert [op.name for op in new.sample_ops()] == ["jitter", "heavy_record"]


def test_an_op_that_reads_the_sample_key_is_never_cached(optimize_in) -> None:
    pipe = pipeline(16, fns.heavy, fns.keyed)
    new, _ = optimize_in(pipe, strategies=["autocache"])
    assert [op.name for op in new.sample_ops()] == ["keyed"]
    assert identical(run(pipe, 2), run(new, 2))


def test_a_filter_inside_the_prefix_is_cached_as_a_drop(optimize_in) -> None:
    pipe = stoker.from_items(list(range(24))).map(fns.heavy).filter(fns.keep_odd_flag).map(fns.jitter).batch(8)
    new, _ = optimize_in(pipe, strategies=["autocache"])
    assert [op.kind for op in new.sample_ops()] == ["filter", "map"]
    assert identical(run(pipe, 2), run(new, 2))


def test_a_cache_too_small_for_one_sample_is_not_made(optimize_in) -> None:
    _, report = optimize_in(pipeline(), strategies=["autocache"], cache_bytes=16)
    assert not applied(report) and "no room" in report.rewrites[0].why


def test_a_cache_sized_below_the_data_holds_the_first_indices(optimize_in) -> None:
    pipe = pipeline(24)
    new, _report = optimize_in(pipe, strategies=["autocache"], cache_bytes=2_000)
    cached = new.source.data
    assert 0 < cached.store.capacity < 24
    assert identical(run(pipe, 2), run(new, 2))
    assert cached.store.entries() <= cached.store.capacity


def test_the_owned_cache_is_removed_on_close(tmp_path) -> None:
    import os

    new, report = stoker.optimize(pipeline(), strategies=["autocache"])
    folder = new.source.data.store.root
    assert os.path.isdir(folder)
    report.close()
    assert not os.path.exists(folder)


def test_a_cache_dir_that_cannot_be_made_leaves_the_pipeline_uncached(tmp_path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    pipe = pipeline(16)
    new, report = stoker.optimize(pipe, strategies=["autocache"], cache_dir=str(blocker / "cache"))
    (rw,) = report.rewrites
    assert not rw.applied and "cannot make the cache folder" in rw.why and new.source is pipe.source
    assert identical(run(pipe, 2), run(new, 2))


def _widen(rec: dict[str, Any]) -> dict[str, Any]:
    """:func:`fns.heavy_keep` plus a 64x wider copy of the features (a costly op whose output is bigger)."""
    out = fns.heavy_keep(rec)
    return {**out, "wide": out["x"].repeat(64)}


def test_only_cuts_with_smaller_entries_than_every_deeper_cut_are_measured(tmp_path) -> None:
    from stoker.optimize import autocache
    from stoker.optimize.base import Context, Options
    from stoker.optimize.chain import Chain

    same_size = Context(Chain.of(pipeline(16, fns.heavy, fns.heavy_keep, fns.jitter)), Options())
    assert autocache.candidates(same_size, 2) == [2]  # cutting earlier reads as much and runs more
    smaller_first = Context(Chain.of(pipeline(16, fns.heavy, _widen, fns.jitter)), Options())
    assert autocache.candidates(smaller_first, 2) == [1, 2]


def test_a_resumed_run_keeps_the_cut_an_earlier_run_left_in_cache_dir(tmp_path, monkeypatch) -> None:
    from dataclasses import replace

    from stoker.optimize import autocache

    pipe = pipeline(16, fns.heavy, _widen, fns.jitter)  # cut 1's entries are smaller: both cuts are measured
    measure = autocache._measure

    def prefer_first_cut(ctx, k, n, root):  # an earlier run whose (noisy) timings favoured cutting after op 1
        cut = measure(ctx, k, n, root)
        return cut if k == 1 else replace(cut, read_s=cut.read_s + 1.0)

    monkeypatch.setattr(autocache, "_measure", prefer_first_cut)
    first, report = stoker.optimize(pipe, strategies=["autocache"], cache_dir=str(tmp_path / "c"))
    assert [op.name for op in first.source.data.ops] == ["heavy"]
    want = run(first, 1)
    monkeypatch.undo()
    second, report = stoker.optimize(pipe, strategies=["autocache"], cache_dir=str(tmp_path / "c"))
    assert [op.name for op in second.source.data.ops] == ["heavy"], report.explain()
    with stoker.Loader(second, workers=0, seed=3) as loader:
        got = [list(loader)]
    assert identical(got, want) and report.stats()["computed"] == 0  # every sample read from the earlier cache
    report.close()


def _drop_odd(rec: dict[str, Any]) -> bool:
    return not rec["odd"]


@pytest.mark.parametrize("with_filter", [False, True], ids=["maps", "filter-in-prefix"])
def test_the_probe_after_caching_equals_probing_the_new_chain(tmp_path, with_filter) -> None:
    """autocache derives the new chain's probe instead of running every later op again."""
    from stoker.optimize import autocache
    from stoker.optimize.base import Context, Options
    from stoker.optimize.chain import Chain
    from stoker.optimize.probe import GONE, probe
    from stoker.optimize.values import same

    pipe = stoker.from_items(list(range(16))).map(fns.heavy)
    if with_filter:
        pipe = pipe.filter(_drop_odd)
    pipe = pipe.map(fns.heavy_keep).map(fns.jitter).batch(4)
    ctx = Context(Chain.of(pipe), Options(cache_dir=str(tmp_path / "c")))
    assert autocache.apply(ctx)[0].applied
    derived, fresh = ctx.probe, probe(ctx.chain)
    assert (ctx.chain.sample_ops[0].name == "cached-filter") == with_filter  # the filter was cached too
    assert derived.indices == fresh.indices
    assert [(f.name, f.kind, f.uses_rng, f.deterministic) for f in derived.ops] == [
        (f.name, f.kind, f.uses_rng, f.deterministic) for f in fresh.ops
    ]
    for mine, theirs in zip(derived.values, fresh.values, strict=True):
        for a, b in zip(mine, theirs, strict=True):
            assert (a is GONE) == (b is GONE) and (a is GONE or type(a).__name__ == "Dropped" or same(a, b))
    for owned in ctx.owned:
        owned.remove()


def test_the_probe_samples_are_cached_at_once(optimize_in) -> None:
    """The probe watched their prefix and made its output: the first epoch does not compute them again."""
    from stoker.optimize.probe import probe_indices
    from stoker.optimize.values import same

    pipe = stoker.from_items(list(range(16))).map(fns.heavy).map(fns.heavy_keep).map(fns.jitter).batch(4)
    new, report = optimize_in(pipe, strategies=["autocache"])
    cached = new.source.data
    assert isinstance(cached, CachedPrefix)
    probed = probe_indices(16, 4)
    assert cached.store.entries() == len(probed)
    for i in probed:
        assert same(cached.store.get(i, cached.cut()), cached.compute(i))
    report.close()
