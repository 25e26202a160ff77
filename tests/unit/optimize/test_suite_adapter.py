"""The DataLoader form of a suite pipeline does the same work as stoker, and the bench validates its flags."""

from __future__ import annotations

import pytest

import stoker
from stoker.bench.pipelines._base import Case, dataloader
from stoker.bench.pipelines.bench import main
from stoker.optimize.values import same
from tests.common import optimize as fns


def test_dataloader_form_gives_stokers_batches_and_re_randomises_every_epoch() -> None:
    pipe = stoker.from_items(list(range(20))).map(fns.as_record).filter(fns.is_even).map(fns.heavy_record)
    pipe = pipe.map(fns.jitter).batch(4)
    with stoker.Loader(pipe, workers=0, seed=0) as loader:
        want = [list(loader) for _ in range(2)]
    dl = dataloader(pipe, workers=0)
    got = [list(dl) for _ in range(2)]  # one DataLoader, two epochs, as a training loop runs it
    for g, w in zip(got, want):
        assert len(g) == len(w) and all(same(a, b) for a, b in zip(g, w))
    assert not same(got[0][0], got[1][0])  # epoch 2 draws new jitter


def test_batch_digests_tell_equal_from_different_batches() -> None:
    import torch

    from stoker.bench.pipelines.digest import digest

    a = {"x": torch.arange(6.0).view(2, 3), "y": [1, "s"]}
    assert digest(a) == digest({"x": torch.arange(6.0).view(2, 3), "y": [1, "s"]})
    b = {"x": torch.arange(6.0).view(2, 3).clone(), "y": [1, "s"]}
    b["x"][1, 2] = -0.0 + 5.000001
    assert digest(a) != digest(b)
    assert digest(torch.zeros(3)) != digest(torch.zeros(3, dtype=torch.float64)[:3].float().view(1, 3))


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
