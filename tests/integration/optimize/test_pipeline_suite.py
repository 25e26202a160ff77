"""Every pipeline of the suite, optimised, delivers the batches of the unoptimised one (2 epochs)."""

from __future__ import annotations

import pytest

import stoker
from stoker.bench.pipelines.suite import build_case, case_names
from stoker.optimize.values import same

EXPECTED = {  # rewrites whose decision does not hinge on a close measurement
    "augment": {"reorder_downscale", "autocache"},
    "text": {"reorder_filter", "autocache"},
    "speech": {"autocache"},
    "sensor": {"autocache"},
}


@pytest.mark.parametrize("name", case_names())
def test_optimised_suite_pipeline_is_bit_identical(name: str) -> None:
    case = build_case(name)
    size = case.pipeline.batch_op.args["size"]
    small = case.subset(3 * size).pipeline
    with stoker.Loader(small, workers=0, seed=0) as plain:
        want = [b for _ in range(2) for b in plain]
    with stoker.Loader(small, workers=2, seed=0, optimize=True) as fast:
        got = [b for _ in range(2) for b in fast]
        report = fast.optimize_report
        report.close()
    assert len(got) == len(want) and all(same(a, b) for a, b in zip(got, want)), report.explain()
    assert EXPECTED.get(name, set()) <= {r.strategy for r in report.applied}, report.explain()
    assert report.exact
