"""The Loader with workers=0 (in-process): same ledger and stream, no processes."""

import pytest
import torch

import stoker
from tests.common.pipelines import fail_on_13, indices_of, numbers
from tests.common.state import LoaderStream, run_test_save_load_state


def _epochs(loader, n):
    return [[b.clone() for b in loader] for _ in range(n)]


def test_each_epoch_covers_every_sample_once_and_reshuffles() -> None:
    with stoker.Loader(numbers(50, batch=8), workers=0) as loader:
        e0, e1 = _epochs(loader, 2)
    assert sorted(indices_of(e0)) == list(range(50)) and sorted(indices_of(e1)) == list(range(50))
    assert indices_of(e0) != indices_of(e1)
    assert len(e0) == 7 and len(loader) == 7


def test_state_round_trips_at_start_middle_and_epoch_edge() -> None:
    run_test_save_load_state(
        lambda: LoaderStream(stoker.Loader(numbers(30, batch=4), workers=0, seed=3)),
        LoaderStream.next,
        steps=20,
        checkpoints=[0, 3, 8, 11, 19],
    )


def test_unbatched_state_resumes_inside_a_split() -> None:
    pipe = stoker.from_items(list(range(20))).shuffle(1)
    with stoker.Loader(pipe, workers=0, split_size=6) as a:
        it = iter(a)
        head = [next(it) for _ in range(4)]
        state = a.state_dict()
        tail = list(it)
    with stoker.Loader(pipe, workers=0, split_size=6) as b:
        b.load_state_dict(state)
        assert list(b) == tail
    assert sorted(head + tail) == list(range(20))


def test_seed_changes_the_stream_and_mismatched_state_is_refused() -> None:
    with stoker.Loader(numbers(16, 4), workers=0, seed=1) as a, stoker.Loader(numbers(16, 4), workers=0, seed=2) as b:
        assert not torch.equal(next(iter(a)), next(iter(b)))
        with pytest.raises(ValueError, match="seed"):
            b.load_state_dict(a.state_dict())


def test_errors_name_the_sample_and_skip_lists_it() -> None:
    pipe = stoker.from_items(list(range(20))).map(fail_on_13).batch(5)
    with stoker.Loader(pipe, workers=0) as loader, pytest.raises(stoker.SampleError, match="sample 13") as info:
        list(loader)
    assert info.value.indices == (13,) and "thirteen is unlucky" in info.value.remote_traceback
    with stoker.Loader(pipe, workers=0, on_error="skip") as loader:
        got = [int(v) for b in loader for v in b]
        stats = loader.stats()
    assert got == [i for i in range(20) if i != 13]
    assert stats["skipped"] == 1 and stats["skipped_samples"][0]["index"] == 13


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"workers": -1}, "workers"),
        ({"workers": "many"}, "workers"),
        ({"on_error": "ignore"}, "on_error"),
        ({"min_workers": 3, "max_workers": 2}, "min_workers"),
        ({"backend": "mpi"}, "backend"),
        ({"autoscaler": "magic", "workers": 0}, "autoscaler"),
    ],
)
def test_bad_arguments_are_named(kwargs, match) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        stoker.Loader(numbers(8), **kwargs)


def test_stats_report_throughput_wait_and_stages() -> None:
    with stoker.Loader(numbers(32, 8), workers=0) as loader:
        list(loader)
        stats = loader.stats()
    assert stats["samples"] == 32 and stats["items"] == 4 and stats["workers"] == 0
    assert 0.0 <= stats["wait_fraction"] <= 1.0 and stats["samples_per_s"] > 0
    assert set(stats["stage_s_per_sample"]) >= {"read", "tag", "collate"}


def test_dataloader_drop_in_matches_a_loader_over_the_same_dataset() -> None:
    ds = torch.utils.data.TensorDataset(torch.arange(10), torch.arange(10) * 2)
    dl = stoker.DataLoader(ds, batch_size=4, shuffle=True, num_workers=0, drop_last=True)
    batches = list(dl)
    assert len(batches) == 2 and all(x.shape == (4,) for x, _ in batches)
    assert all(torch.equal(y, x * 2) for x, y in batches)
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        stoker.DataLoader(ds, shuffle=True, sampler=range(10))


@pytest.mark.parametrize(("world", "each"), [(3, 2), (8, 1), (4, 1)])
def test_every_rank_gets_the_same_number_of_batches(world: int, each: int) -> None:
    counts = []
    seen: set[int] = set()
    for rank in range(world):
        with stoker.Loader(numbers(32, 8), workers=0, rank=rank, world_size=world) as loader:
            batches = list(loader)
            assert len(loader) == len(batches)
        counts.append(len(batches))
        seen |= {int(v) for b in batches for v in b[:, 0].tolist()}
    assert counts == [each] * world  # 4 batches: DDP would hang on 2/1/1 or on ranks with none
    assert seen == set(range(32))


def test_drop_last_drops_the_rank_remainder() -> None:
    pipe = stoker.from_items(list(range(32))).map(float).batch(8, drop_last=True)
    counts = [len(list(stoker.Loader(pipe, workers=0, rank=r, world_size=3))) for r in range(3)]
    assert counts == [1, 1, 1]
