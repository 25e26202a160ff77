"""A sampler's epoch drawn in the trainer becomes explicit splits; its state restores the same epoch."""

from __future__ import annotations

import pickle

import pytest
import torch
from torch.utils.data import BatchSampler, RandomSampler, SequentialSampler

from stoker.data.dispatcher import Dispatcher
from stoker.data.sampling import SamplerIdentity, SamplerSplits


def splits_of(sampler: object, batched: bool = True, size: int = 4) -> SamplerSplits:
    bs = sampler if batched else None
    inner = getattr(sampler, "sampler", sampler)
    return SamplerSplits(sampler, batched, size, SamplerIdentity.of(inner, bs, 4 if batched else None, False))  # type: ignore[arg-type]


def test_batches_become_splits_as_torch_draws_them() -> None:
    g = torch.Generator().manual_seed(7)
    bs = BatchSampler(RandomSampler(range(10), generator=g), 4, drop_last=False)
    got = splits_of(bs).draw()
    g.manual_seed(7)
    assert got == [tuple(b) for b in bs] and [len(s) for s in got] == [4, 4, 2]


def test_unbatched_indices_are_chunked_and_may_be_lists() -> None:
    s = splits_of([[0, 1], [2, 3], [4]], batched=False, size=2)
    assert s.draw() == [([0, 1], [2, 3]), ([4],)]
    assert s.restore(pickle.loads(pickle.dumps(s.state_dict()))) == [([0, 1], [2, 3]), ([4],)]


def test_state_restores_the_drawn_epoch_and_checks_the_sampler() -> None:
    a = splits_of(BatchSampler(RandomSampler(range(10)), 4, drop_last=False))
    drawn = a.draw()
    state = pickle.loads(pickle.dumps(a.state_dict()))
    assert isinstance(state["splits"]["flat"], torch.Tensor)  # compact and torch.save-safe
    b = splits_of(BatchSampler(RandomSampler(range(10)), 4, drop_last=False))
    assert b.restore(state) == drawn
    other = splits_of(BatchSampler(SequentialSampler(range(10)), 4, drop_last=False))
    with pytest.raises(ValueError, match="sampler field sampler="):
        other.restore(state)
    with pytest.raises(ValueError, match="not a stoker sampler state"):
        b.restore({"x": 1})


def test_dispatcher_hands_out_explicit_splits_to_its_rank() -> None:
    d = Dispatcher(0, 1, False, None, prefetch=8, world_size=2, rank=1)
    d.use_splits([(5, 6), (7,), (1, 2), (0,)])
    d.begin_epoch(0)
    issued = d.assign(["w"])
    assert [s.indices for _, s in issued] == [(7,), (0,)]
    for _, s in issued:
        d.receive("w", s.key, s.indices)
    assert [d.pop_ready(), d.pop_ready(), d.done] == [(1, (7,)), (3, (0,)), True]


class _Virtual(torch.utils.data.Dataset):
    """A data set whose length is virtual: items are made from their index."""

    def __len__(self) -> int:
        return 100_000_000

    def __getitem__(self, i: int) -> int:
        return i


def test_a_sequential_epoch_of_1e8_is_computed_per_split_and_round_trips() -> None:
    import tracemalloc

    import stoker

    tracemalloc.start()
    with stoker.DataLoader(_Virtual(), batch_size=32, num_workers=0) as loader:
        it = iter(loader)
        first, second = next(it), next(it)
        state = loader.state_dict()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert first.tolist() == list(range(32)) and second.tolist() == list(range(32, 64))
    assert peak < 8 << 20  # bytes; the drawn epoch alone was 800 MB of indices
    with stoker.DataLoader(_Virtual(), batch_size=32, num_workers=0) as again:
        again.load_state_dict(pickle.loads(pickle.dumps(state)))
        assert next(iter(again)).tolist() == list(range(64, 96))


def test_range_splits_match_what_the_sampler_draws() -> None:
    from stoker.data.sampling import RangeSplits, _collect

    for n, size, drop_last in [(10, 3, False), (10, 3, True), (9, 3, False), (1, 4, False)]:
        drawn = _collect(BatchSampler(SequentialSampler(range(n)), size, drop_last))
        lazy = RangeSplits(n, size, drop_last)
        assert lazy == drawn and [lazy[k] for k in range(len(lazy))] == [drawn[k] for k in range(len(drawn))]
        assert lazy.samples_in(range(len(lazy))) == sum(map(len, drawn))
