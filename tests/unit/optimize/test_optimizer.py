"""stoker.optimize as a whole: the report, the registry, bad input, and Loader(optimize=True)."""

from __future__ import annotations

import pytest
import torch

import stoker
import stoker.optimize
from stoker.optimize import get_strategy, strategy_names
from tests.common import optimize as fns
from tests.unit.optimize.conftest import identical, run


def pipeline() -> stoker.Pipeline:
    pipe = stoker.from_items(list(range(32))).shuffle(seed=2).map(fns.as_record).map(fns.heavy_record)
    return pipe.filter(fns.is_even).map(fns.jitter).map(fns.scale).batch(4)


def test_explain_lists_each_rewrite_why_and_gain(optimize_in) -> None:
    new, report = optimize_in(pipeline(), min_gain=0.0)
    text = report.explain()
    assert text.splitlines()[0] == f"before: {pipeline()!r}"
    for name in strategy_names():
        assert f"] {name} (" in text
    assert "ms/sample" in text and report.exact
    assert {r.strategy for r in report.applied} >= {"reorder_filter", "autocache"}
    assert identical(run(pipeline(), 3), run(new, 3))


def test_both_spellings_are_callable() -> None:
    assert callable(stoker.optimize)
    assert stoker.optimize.optimize is not None and isinstance(stoker.optimize(pipeline(), strategies=[]), tuple)


def test_unknown_strategies_and_bad_input_name_the_way_out() -> None:
    with pytest.raises(ValueError, match=r"unknown optimizer strategy 'teleport'; choose one of \['autocache'"):
        get_strategy("teleport")
    with pytest.raises(ValueError, match="teleport"):
        stoker.optimize(pipeline(), strategies=["teleport"])
    with pytest.raises(TypeError, match="takes a stoker Pipeline"):
        stoker.optimize([1, 2, 3])
    with pytest.raises(ValueError, match="min_gain"):
        stoker.optimize(pipeline(), min_gain=1.5)


def test_a_pipeline_without_per_sample_ops_is_returned_as_is() -> None:
    pipe = stoker.from_items(list(range(8))).batch(4)
    new, report = stoker.optimize(pipe)
    assert new.ops == pipe.ops and not report.rewrites


def test_loader_optimize_true_gives_the_same_batches() -> None:
    with stoker.Loader(pipeline(), workers=0, seed=3, optimize=True) as loader:
        got = [list(loader) for _ in range(2)]
        assert loader.optimize_report.applied
        loader.optimize_report.close()
    assert identical(got, run(pipeline(), 2))


def test_a_stream_source_is_left_as_it_is_saying_why() -> None:
    class Numbers(torch.utils.data.IterableDataset):
        def __iter__(self):
            return iter(range(16))

    pipe = stoker.from_iterable(Numbers(), num_shards=2).map(fns.heavy).batch(4)
    new, report = stoker.optimize(pipe)
    assert new is pipe and not report.applied and "stream" in report.rewrites[0].why


def test_the_trainers_global_rngs_are_untouched_by_probing(optimize_in) -> None:
    import random

    import numpy as np

    torch.manual_seed(11)
    random.seed(11)
    np.random.seed(11)
    want = (torch.rand(3), random.random(), np.random.rand())
    torch.manual_seed(11)
    random.seed(11)
    np.random.seed(11)
    optimize_in(pipeline())
    got = (torch.rand(3), random.random(), np.random.rand())
    assert torch.equal(got[0], want[0]) and got[1:] == want[1:]
