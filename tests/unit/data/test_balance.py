"""Data-parallel ranks yield len(loader) items whatever is filtered out or skipped."""

import pytest
import torch
from torch.utils.data import DistributedSampler

import stoker
from stoker.data.balance import NOTHING, Balancer
from stoker.data.errors import StokerError
from tests.common.state import LoaderStream, run_test_save_load_state


def _keep(i: int) -> bool:
    return not 0 <= i < 8 and not 32 <= i < 40  # two whole batches of rank 0 (batch 8, 2 ranks)


def _bad(i: int) -> int:
    if 24 <= i < 32 or i == 41:  # a whole batch of rank 1 and one sample of another
        raise ValueError(f"bad sample {i}")
    return i


def _pipe(batch: int | None = 8) -> stoker.Pipeline:
    pipe = stoker.from_items(list(range(64))).map(_bad).filter(_keep)
    return pipe.batch(batch) if batch else pipe


def test_balancer_pays_debts_with_the_next_split_and_the_end_with_the_last_item() -> None:
    b = Balancer(True)
    assert b.fill([], 1, 0) == [] and b.owed == 1  # nothing to repeat yet: a debt
    assert b.fill(["a"], 1, 2) == ["a", "a"] and b.owed == 0 and b.owed_before == 1
    assert b.fill(["x", "y"], 4, 4) == ["x", "y", "x", "y"]
    assert b.fill([], 1, 6) == [] and b.owed == 1
    assert b.pad_end(0, lambda k: pytest.fail("the last item is at hand")) == "y"
    assert b.pad_end(0, lambda k: None) is NOTHING and b.padded == 4
    assert Balancer(False).fill([], 1, 0) == []


def test_a_resumed_rank_regenerates_the_item_it_pads_the_end_with() -> None:
    b = Balancer(True)
    b.begin(owed=2, last_split=6)
    assert [b.pad_end(0, lambda k: f"last of {k}") for _ in range(3)] == ["last of 6", "last of 6", NOTHING]


def test_a_rank_with_nothing_at_all_says_so_instead_of_hanging_the_others() -> None:
    b = Balancer(True, rank=1)
    b.fill([], 1, 1)
    with pytest.raises(StokerError, match="rank 1 got no item at all in epoch 3"):
        b.pad_end(3, lambda k: None)


@pytest.mark.parametrize("batch", [8, None])
def test_ranks_yield_len_loader_items_whatever_is_filtered_or_skipped(batch: int | None) -> None:
    counts, lens = [], []
    for rank in range(2):
        with stoker.Loader(_pipe(batch), workers=0, rank=rank, world_size=2, on_error="skip") as loader:
            items = list(loader)
            counts.append(len(items))
            lens.append(len(loader))
            assert loader.stats()["padded_items"] > 0
    assert counts == lens and counts[0] == counts[1]


def test_one_process_keeps_dropping_what_it_filters() -> None:
    with stoker.Loader(_pipe(), workers=0, on_error="skip") as loader:
        assert len(list(loader)) == 5 and len(loader) == 8  # 3 batches empty: no DDP, no padding


def test_distributed_sampler_ranks_of_the_dataloader_are_balanced_too() -> None:
    data = list(range(64))

    def counts(rank: int) -> int:
        sampler = DistributedSampler(data, num_replicas=2, rank=rank, shuffle=False)
        loader = stoker.DataLoader(
            _Skipping(data), batch_size=4, sampler=sampler, num_workers=0, on_error="skip", collate_fn=_collate
        )
        with loader:
            return len(list(loader))

    assert counts(0) == counts(1) == 8


class _Skipping(torch.utils.data.Dataset):
    def __init__(self, data: list[int]) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> int:
        if i < 16 and i % 2 == 0:  # rank 0's first four batches (sampler deals 0, 2, 4 ...) fail
            raise ValueError(f"bad sample {i}")
        return self.data[i]


def _collate(items: list[int]) -> torch.Tensor:
    return torch.tensor(items)


@pytest.mark.parametrize(("batch", "steps"), [(None, 40), (8, 10)])
def test_padded_stream_resumes_exactly(batch: int | None, steps: int) -> None:
    run_test_save_load_state(  # rank 0's first split is empty: its debt is paid by the next one
        lambda: LoaderStream(stoker.Loader(_pipe(batch), workers=0, rank=0, world_size=2, on_error="skip", seed=2)),
        LoaderStream.next,
        steps=steps,
        checkpoints=sorted({0, 1, 2, 3, 5, steps // 2, steps - 1}),
    )


def _keep_head(i: int) -> bool:
    return not 48 <= i < 56  # rank 0's last batch: the end of its epoch is padded


def test_a_state_saved_before_the_end_padding_resumes_it_exactly() -> None:
    pipe = stoker.from_items(list(range(64))).filter(_keep_head).batch(8)
    with stoker.Loader(pipe, workers=0, rank=0, world_size=2) as loader:
        assert [b.tolist()[0] for b in loader] == [0, 16, 32, 32]
    run_test_save_load_state(
        lambda: LoaderStream(stoker.Loader(pipe, workers=0, rank=0, world_size=2)),
        LoaderStream.next,
        steps=8,
        checkpoints=range(9),
    )
