"""The DataLoader form of a suite pipeline does the same work as stoker, and the bench validates its flags."""

from __future__ import annotations

import pytest

import stoker
from stoker.bench.pipelines._base import Case, dataloader
from stoker.bench.pipelines.bench import main
from stoker.optimize.values import same
from tests.common import optimize as fns


def test_dataloader_form_does_stokers_work_with_new_augmentation_each_epoch() -> None:
    pipe = stoker.from_items(list(range(20))).map(fns.as_record).filter(fns.is_even).map(fns.heavy_record)
    pipe = pipe.map(fns.jitter).batch(4)
    with stoker.Loader(pipe, workers=0, seed=0) as loader:
        want = list(loader)
    dl = dataloader(pipe, workers=0)
    first, second = list(dl), list(dl)
    for got in (first, second):  # the same samples filtered and batched, the same shapes
        assert [b["i"].tolist() for b in got] == [b["i"].tolist() for b in want]
        assert [b["x"].shape for b in got] == [b["x"].shape for b in want]
    # As a user's DataLoader: the random augmentation changes from one epoch to the next.
    assert not all(same(a["x"], b["x"]) for a, b in zip(first, second))


def test_subset_keeps_the_ops_and_cuts_the_source() -> None:
    case = Case("x", stoker.from_items(list(range(50))).map(fns.heavy).batch(8), "test")
    small = case.subset(10)
    assert len(small.pipeline) == 10 and small.pipeline.ops == case.pipeline.ops
    assert small.pipeline.source.get(3) == 3


@pytest.mark.parametrize(
    ("argv", "named"),
    [(["--pipelines", "nope"], "'nope'"), (["--rounds", "0"], "--rounds 0"), (["--epochs", "0"], "--epochs 0")],
)
def test_bad_flags_exit_2_naming_the_value(argv, named, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert named in capsys.readouterr().err
