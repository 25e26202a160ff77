import pytest
import torch

from stoker.train.ps.feed import TensorFeed


def _feed(batch: int = 4) -> TensorFeed:
    return TensorFeed(torch.arange(30).float().unsqueeze(1), torch.arange(30), batch=batch, seed=3)


def test_workers_get_disjoint_equal_slices_and_drop_the_remainder() -> None:
    feed = _feed()
    assert feed.rounds_per_epoch(3) == 2
    per_worker = [[y for _, y in feed(r, 3, epoch=0)] for r in range(3)]
    assert all(len(batches) == 2 and all(len(y) == 4 for y in batches) for batches in per_worker)
    seen = torch.cat([y for batches in per_worker for y in batches]).tolist()
    assert len(set(seen)) == 24


def test_order_depends_on_seed_and_epoch_only() -> None:
    a = [y.tolist() for _, y in _feed()(0, 2, epoch=1)]
    assert a == [y.tolist() for _, y in _feed()(0, 2, epoch=1)]
    assert a != [y.tolist() for _, y in _feed()(0, 2, epoch=2)]


def test_a_round_larger_than_the_data_is_refused() -> None:
    with pytest.raises(ValueError, match="lower the batch"):
        _feed(batch=20).rounds_per_epoch(2)
