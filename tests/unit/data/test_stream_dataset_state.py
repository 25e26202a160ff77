"""Which data sets' state_dict stoker uses, how it names them, and an error in it (in-process)."""

import pytest
import torch
from torch.utils.data import ChainDataset

import stoker
from stoker.data.streams.dataset_state import describe, libraries_of, resumable
from tests.common.streams import BrokenState, CountingNumbers, Numbers, RankLevelState


class Builtin(Numbers):
    state_dict = dict  # a builtin without a signature: callable with no argument
    load_state_dict = print


def test_only_a_no_argument_state_dict_with_a_one_argument_load_is_used() -> None:
    assert resumable(CountingNumbers(4))
    assert resumable(Builtin(4))
    assert not resumable(Numbers(4))  # no state at all
    assert not resumable(RankLevelState(4))  # litdata's convention: arguments, the trainer's process only


def test_a_data_set_is_named_with_its_library() -> None:
    assert describe(ChainDataset([])) == "torch's ChainDataset"
    assert describe(Numbers(1)) == "Numbers (module tests.common.streams)"
    assert libraries_of(Numbers(1)) == ["torch"]


@pytest.mark.parametrize("batch", [None, 3])
def test_a_state_dict_that_needs_arguments_is_left_alone_and_every_record_comes_once(batch: int | None) -> None:
    got = [
        int(r[0])
        for b in stoker.DataLoader(RankLevelState(23), batch_size=batch, num_workers=0)
        for r in (b if batch else [b])
    ]
    assert sorted(got) == list(range(23))


def test_an_error_in_state_dict_is_raised_as_that_error_naming_the_data_set() -> None:
    loader = stoker.DataLoader(BrokenState(40, after=6), batch_size=4, num_workers=0)
    with pytest.raises(KeyError, match=r"no state past record 6") as info:
        list(loader)
    assert isinstance(info.value, stoker.SampleError)
    assert info.value.op == "state_dict:BrokenState (module tests.common.streams)"
    assert "state_dict()" in str(info.value) and "virtual shard 0" in str(info.value)


def test_a_resumed_stream_loads_the_data_sets_own_state() -> None:
    loader = stoker.DataLoader(CountingNumbers(30), batch_size=4, num_workers=0)
    it = iter(loader)
    first = [next(it) for _ in range(3)]
    state = loader.state_dict()
    del it
    again = stoker.DataLoader(CountingNumbers(30), batch_size=4, num_workers=0)
    again.load_state_dict(state)
    rest = list(again)
    got = [int(v) for b in first + rest for v in b[:, 0]]
    assert got == list(range(30))
    assert torch.equal(torch.cat(first)[:, 0], torch.arange(12, dtype=torch.float64))
