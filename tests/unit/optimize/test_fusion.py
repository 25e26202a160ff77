"""Fusion: trailing element-wise ops run once per batch only where the batch result is identical."""

from __future__ import annotations

import torch

import stoker
from stoker.optimize.fusion import Batched
from tests.common import optimize as fns
from tests.unit.optimize.conftest import identical, run


def fused(report) -> list:
    return [r for r in report.rewrites if r.strategy == "fusion" and r.applied]


def test_an_elementwise_tail_runs_after_collate_with_identical_batches(optimize_in) -> None:
    pipe = stoker.from_items(list(range(40))).map(fns.heavy).map(fns.jitter).map(fns.scale).batch(8)
    new, report = optimize_in(pipe, strategies=["fusion"], min_gain=0.0)
    assert [op.name for op in new.sample_ops()] == ["heavy", "jitter"]
    (after,) = new.batch_ops()
    assert isinstance(after.fn, Batched) and [op.name for op in after.fn.ops] == ["scale"]
    assert fused(report)[0].exact
    assert identical(run(pipe, 2), run(new, 2))


def test_an_op_reading_the_rng_is_never_moved_to_the_batch(optimize_in) -> None:
    pipe = stoker.from_items(list(range(16))).map(fns.heavy).map(fns.scale).map(fns.jitter).batch(8)
    new, report = optimize_in(pipe, strategies=["fusion"], min_gain=0.0)
    assert not fused(report) and new.sample_ops()[-1].name == "jitter"


def test_a_per_sample_reduction_is_not_fused(optimize_in) -> None:
    pipe = stoker.from_items(list(range(16))).map(fns.heavy).map(fns.jitter).map(fns.center).batch(8)
    new, report = optimize_in(pipe, strategies=["fusion"], min_gain=0.0)
    assert not fused(report) and "same result on a batch" in report.rewrites[0].why
    assert new.sample_ops()[-1].name == "center"


def test_a_custom_collate_is_not_fused(optimize_in) -> None:
    pipe = stoker.from_items(list(range(16))).map(fns.heavy).map(fns.scale).batch(8, collate=list)
    _, report = optimize_in(pipe, strategies=["fusion"], min_gain=0.0)
    assert not fused(report) and "default_collate" in report.rewrites[0].why


def test_fused_ops_go_before_existing_batch_ops(optimize_in) -> None:
    def count(batch):
        return {**batch, "n": torch.tensor(batch["x"].shape[0])}

    pipe = stoker.from_items(list(range(16))).map(fns.heavy).map(fns.scale).batch(8).map(count)
    new, _ = optimize_in(pipe, strategies=["fusion"], min_gain=0.0)
    assert [op.name for op in new.batch_ops()] == ["fused(scale)", "count"]
    assert identical(run(pipe, 1), run(new, 1))


def test_a_tail_that_does_not_batch_on_the_probe_values_is_not_run_again(optimize_in, monkeypatch) -> None:
    from stoker.optimize.base import Context

    def no_second_run(self, ops):
        raise AssertionError("the chain ran again on the probe samples")

    monkeypatch.setattr(Context, "traces", no_second_run)
    pipe = stoker.from_items(list(range(16))).map(fns.heavy).map(fns.jitter).map(fns.center).batch(8)
    new, report = optimize_in(pipe, strategies=["fusion"], min_gain=0.0)
    assert not fused(report) and "same result on a batch" in report.rewrites[0].why
    assert new.sample_ops()[-1].name == "center"
