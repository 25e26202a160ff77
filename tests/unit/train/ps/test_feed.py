import pytest
import torch

from stoker.train.ps.feed import TensorFeed


def _feed(batch: int = 4) -> TensorFeed:
    return TensorFeed(torch.arange(30).float().unsqueeze(1), torch.arange(30), batch=batch, seed=3)


def _epochs(feed: TensorFeed, rank: int, n: int, epochs: int) -> list[list[list[int]]]:
    out = [[y.tolist() for _, y in feed(rank, n, e)] for e in range(epochs)]
    feed.close()
    return out


def test_workers_get_disjoint_equal_slices_every_epoch() -> None:
    feed = _feed()
    assert feed.rounds_per_epoch(3) == 2
    per_worker = [_epochs(feed, r, 3, 2) for r in range(3)]
    for e in range(2):
        batches = [b for w in per_worker for b in w[e]]
        assert len(batches) == 6 and all(len(b) == 4 for b in batches)
        assert len({i for b in batches for i in b}) == 24


def test_order_depends_on_seed_and_epoch_only() -> None:
    a = _epochs(_feed(), 0, 2, 2)
    assert a == _epochs(_feed(), 0, 2, 2)
    assert a[0] != a[1]


def test_epochs_must_come_in_order() -> None:
    feed = _feed()
    with pytest.raises(ValueError, match="epoch"):
        list(feed(0, 2, 1))


def test_a_round_larger_than_the_data_is_refused() -> None:
    with pytest.raises(ValueError, match="lower the batch"):
        _feed(batch=20).rounds_per_epoch(2)
