"""Streams in-process (workers=0): worker info per virtual shard, replay, state, errors, resume."""

import pytest
import torch
from torch.utils.data import IterableDataset, get_worker_info

import stoker
from stoker.data.executor import Executor
from stoker.data.streams.split import make_stream_split
from tests.common.pipelines import indices_of
from tests.common.state import LoaderStream, run_test_save_load_state
from tests.common.streams import CountingNumbers, Numbers


class Infos(IterableDataset):
    def __init__(self) -> None:
        self.original = id(self)

    def __iter__(self):
        info = get_worker_info()
        yield (info.id, info.num_workers, info.seed, info.dataset is self and self.original != id(self))


def _round_robin(n: int, k: int, b: int) -> list[int]:
    per = [list(range(s, n, k)) for s in range(k)]
    out = []
    for blk in range(max(len(p) for p in per) // b + 1):
        for p in per:
            out += p[blk * b : (blk + 1) * b]
    return out


def test_each_virtual_shard_sees_its_worker_info_on_a_private_copy() -> None:
    with stoker.Loader(stoker.from_iterable(Infos(), num_shards=3), workers=0, seed=5) as loader:
        got = list(loader)
        again = list(loader)
    assert [(i, n, copy) for i, n, _, copy in got] == [(0, 3, True), (1, 3, True), (2, 3, True)]
    assert len({seed for _, _, seed, _ in got}) == 3
    assert [s for *_, s, _ in got] != [s for *_, s, _ in again]  # a new seed every epoch, as torch
    assert get_worker_info() is None  # restored outside the shard


def test_the_stream_is_torchs_round_robin_of_shard_blocks() -> None:
    with stoker.Loader(stoker.from_iterable(Numbers(47), num_shards=4).batch(3), workers=0) as loader:
        got = list(loader)
    assert indices_of(got) == _round_robin(47, 4, 3)
    with pytest.raises(TypeError, match="no length"):
        len(loader)


def _run(executor: Executor, shard: int, block: int, size: int = 4, drop_last: bool = False):
    return executor.run(make_stream_split(0, block * 2 + shard, shard, 2, block, size, drop_last))


def test_a_block_out_of_sequence_replays_to_its_start_with_the_same_randomness() -> None:
    pipe = stoker.from_iterable(Numbers(40), num_shards=2)
    seq = Executor(pipe, 0, "raise")
    blocks = [_run(seq, 0, b).items for b in range(3)]
    jump = Executor(pipe, 0, "raise")
    assert all(torch.equal(a, b) for a, b in zip(_run(jump, 0, 2).items, blocks[2]))


def test_a_stateful_data_set_resumes_from_its_state_instead_of_replaying() -> None:
    pipe = stoker.from_iterable(CountingNumbers(40), num_shards=2)
    first = Executor(pipe, 0, "raise")
    head = _run(first, 0, 0)
    assert head.state == {"next": 8}
    other = Executor(pipe, 0, "raise")
    split = make_stream_split(0, 2, 0, 2, 1, 4, False, resume=head.state)
    got = other.run(split)
    assert [int(x[0]) for x in got.items] == [8, 10, 12, 14]


def test_the_shard_end_is_reported_and_drop_last_drops_a_short_block() -> None:
    pipe = stoker.from_iterable(Numbers(10), num_shards=2).batch(4, drop_last=True)
    ex = Executor(pipe, 0, "raise")
    full, short = _run(ex, 0, 0, drop_last=True), _run(ex, 0, 1, drop_last=True)
    assert (full.shard_end, short.shard_end, short.records, short.items) == (False, True, 1, [])
    with stoker.Loader(pipe, workers=0) as loader:
        assert indices_of(list(loader)) == [0, 2, 4, 6, 1, 3, 5, 7]


class Broken(IterableDataset):
    def __iter__(self):
        yield 1
        raise KeyError("bad record")


def test_errors_name_the_shard_and_record_and_skip_ends_the_shard() -> None:
    with stoker.Loader(stoker.from_iterable(Broken(), num_shards=1), workers=0) as loader:
        with pytest.raises(stoker.SampleError, match="record 1 of virtual shard 0") as info:
            list(loader)
    assert "KeyError" in str(info.value)
    with stoker.Loader(stoker.from_iterable(Broken(), num_shards=2), workers=0, on_error="skip") as loader:
        assert list(loader) == [1, 1]
        assert loader.stats()["skipped"] == 2


def test_state_round_trips_mid_shard_at_the_edge_and_the_start() -> None:
    for dataset in (Numbers(30), CountingNumbers(30)):
        run_test_save_load_state(
            lambda ds=dataset: LoaderStream(stoker.Loader(stoker.from_iterable(ds, 3).batch(4), workers=0, seed=2)),
            LoaderStream.next,
            steps=14,
            checkpoints=[0, 2, 5, 9, 13],
        )


def test_unbatched_state_resumes_inside_a_block() -> None:
    pipe = stoker.from_iterable(Numbers(20), num_shards=2)
    with stoker.Loader(pipe, workers=0, split_size=4) as a:
        it = iter(a)
        head = [next(it) for _ in range(5)]
        state = a.state_dict()
        tail = list(it)
    with stoker.Loader(pipe, workers=0, split_size=4) as b:
        b.load_state_dict(state)
        rest = list(b)
    assert [int(x[0]) for x in rest] == [int(x[0]) for x in tail] and len(head) + len(tail) == 20


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="num_shards"):
        stoker.from_iterable(Numbers(3), num_shards=0)
    with pytest.raises(TypeError, match="iterable"):
        stoker.from_iterable(42)
    with pytest.raises(ValueError, match="shuffle"):
        stoker.Loader(stoker.from_iterable(Numbers(3)).shuffle(0), workers=0)
