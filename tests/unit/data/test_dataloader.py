"""stoker.DataLoader against torch's DataLoader, side by side, in-process (num_workers=0).

Same data, same seeds: the same batches, for every argument and attribute; the worker-process
variants are in tests/integration/test_dataloader_workers.py.
"""

from __future__ import annotations

import inspect
import pickle
import warnings
from collections import namedtuple
from typing import Any

import pytest
import torch
import torch.utils.data as tud
from torch.utils.data.distributed import DistributedSampler

import stoker
from stoker.system import cpu_count
from tests.common.state import LoaderStream, run_test_save_load_state

DS = tud.TensorDataset(torch.arange(23), torch.arange(23) * 10)
Pair = namedtuple("Pair", ["x", "y"])


def same(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


def both(dataset: Any = DS, seed: int | None = 0, epochs: int = 2, **kw: Any) -> tuple[list[Any], list[Any]]:
    """Batches of `epochs` epochs from torch's and stoker's DataLoader, each after torch.manual_seed(seed)."""
    out = []
    for cls in (tud.DataLoader, stoker.DataLoader):
        if seed is not None:
            torch.manual_seed(seed)
        args = {
            k: (v() if callable(v) and k in ("generator", "sampler", "batch_sampler") else v) for k, v in kw.items()
        }
        loader = cls(dataset, **args)
        out.append([list(loader) for _ in range(epochs)])
    return out[0], out[1]


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"batch_size": 5},
        {"batch_size": 5, "drop_last": True},
        {"batch_size": None},
        {"batch_size": 4, "shuffle": True},
        {"batch_size": 4, "shuffle": True, "generator": lambda: torch.Generator().manual_seed(3)},
        {"batch_size": 3, "sampler": lambda: tud.SubsetRandomSampler(range(4, 20))},
        {"batch_sampler": lambda: [[1, 2], [3], [22, 0, 5]]},
        {"batch_size": 4, "sampler": lambda: tud.RandomSampler(DS, replacement=True, num_samples=30)},
        {"batch_size": 4, "collate_fn": lambda b: [Pair(x, y) for x, y in b]},
        {"batch_size": None, "collate_fn": lambda s: s[0] * 2},
        {"batch_size": 4, "in_order": False},
        {"batch_size": 4, "timeout": 0},
    ],
    ids=lambda kw: ",".join(kw) or "defaults",
)
def test_same_batches_as_torch(kw: dict[str, Any]) -> None:
    theirs, ours = both(**kw)
    assert same(ours, theirs)


def test_global_seed_drives_the_shuffle_as_in_torch() -> None:
    a, b = both(batch_size=4, shuffle=True, seed=11)
    c, _ = both(batch_size=4, shuffle=True, seed=12)
    assert same(a, b) and not same(a, c)
    torch.manual_seed(5)
    tud.DataLoader(DS, shuffle=True).__iter__().__next__()
    after_torch = torch.rand(1)
    torch.manual_seed(5)
    next(iter(stoker.DataLoader(DS, shuffle=True)))
    assert torch.equal(torch.rand(1), after_torch)  # the global RNG advanced exactly as torch's does


def test_weighted_random_sampler_with_a_generator() -> None:
    weights = ([0.1, 0.9, 0.4, 0.7, 3.0, 0.6] * 4)[:23]
    for replacement in (True, False):
        theirs, ours = both(
            batch_size=3,
            sampler=lambda r=replacement: tud.WeightedRandomSampler(
                weights, 12, replacement=r, generator=torch.Generator().manual_seed(42)
            ),
        )
        assert same(ours, theirs)


def test_distributed_sampler_two_ranks_same_indices_disjoint_and_whole() -> None:
    data = tud.TensorDataset(torch.arange(24))
    seen: list[int] = []
    for rank in range(2):
        per_epoch = {}
        for cls in (tud.DataLoader, stoker.DataLoader):
            sampler = DistributedSampler(data, num_replicas=2, rank=rank, shuffle=True, seed=9)
            loader = cls(data, batch_size=4, sampler=sampler)
            epochs = []
            for e in range(3):
                loader.sampler.set_epoch(e)  # type: ignore[attr-defined]
                epochs.append([b[0].tolist() for b in loader])
            per_epoch[cls] = epochs
        assert per_epoch[stoker.DataLoader] == per_epoch[tud.DataLoader]
        assert per_epoch[stoker.DataLoader][0] != per_epoch[stoker.DataLoader][1]  # set_epoch reshuffles
        seen += [i for batch in per_epoch[stoker.DataLoader][0] for i in batch]
    assert sorted(seen) == list(range(24))  # disjoint, and together the epoch


def test_attributes_are_torchs() -> None:
    g = torch.Generator()
    kw = dict(batch_size=4, shuffle=True, drop_last=True, timeout=3, generator=g, in_order=False, pin_memory=False)
    theirs, ours = tud.DataLoader(DS, **kw), stoker.DataLoader(DS, **kw)  # type: ignore[arg-type]
    for name in (
        "batch_size",
        "drop_last",
        "timeout",
        "generator",
        "in_order",
        "num_workers",
        "pin_memory",
        "pin_memory_device",
        "persistent_workers",
        "prefetch_factor",
        "worker_init_fn",
        "collate_fn",
        "multiprocessing_context",
        "dataset",
    ):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert type(ours.sampler) is type(theirs.sampler) and type(ours.batch_sampler) is type(theirs.batch_sampler)
    assert len(ours) == len(theirs) == 5
    assert isinstance(ours, tud.DataLoader)
    assert stoker.DataLoader[int] is not None  # DataLoader[T] for type hints
    for name in ("batch_size", "sampler", "batch_sampler", "drop_last", "dataset", "persistent_workers"):
        with pytest.raises(ValueError, match="should not be set after"):
            setattr(ours, name, None)


def test_len_follows_a_growing_dataset() -> None:
    data = [torch.ones(2)] * 4
    loader = stoker.DataLoader(data, batch_size=3)
    data.append(torch.ones(2))
    assert len(loader) == 2 and len(list(loader)) == 2


def test_torch_argument_checks() -> None:
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        stoker.DataLoader(DS, shuffle=True, sampler=range(3))
    with pytest.raises(ValueError, match="prefetch_factor option could only be specified in multiprocessing"):
        stoker.DataLoader(DS, prefetch_factor=2)
    with pytest.raises(ValueError, match="persistent_workers option needs num_workers > 0"):
        stoker.DataLoader(DS, persistent_workers=True)
    with pytest.raises(ValueError, match="num_workers option should be non-negative"):
        stoker.DataLoader(DS, num_workers=-1)
    with pytest.raises(ValueError, match="num_workers='many'"):
        stoker.DataLoader(DS, num_workers="many")
    with pytest.raises(TypeError, match=r"unexpected keyword arguments \['bogus'\]"):
        stoker.DataLoader(DS, bogus=1)
    with pytest.raises(ValueError, match="max_workers=3 and num_workers=2 disagree"):
        stoker.DataLoader(DS, num_workers=2, autoscale=True, max_workers=3)
    with pytest.raises(ValueError, match="autoscale=True needs num_workers >= 1"):
        stoker.DataLoader(DS, autoscale=True)


def test_auto_keeps_num_workers_an_int_as_torch_and_frameworks_expect() -> None:
    auto = stoker.DataLoader(DS, num_workers="auto", max_workers=3)
    assert auto.num_workers == 3 and isinstance(auto.num_workers, int) and auto.autoscale
    assert auto.options == {"max_workers": 3}
    default = stoker.DataLoader(DS, num_workers="auto")
    assert default.num_workers == cpu_count() and default.autoscale
    assert not stoker.DataLoader(DS, num_workers=2).autoscale


def test_rebuilt_from_its_attributes_it_is_the_same_stoker_loader() -> None:
    """What Lightning's _update_dataloader and accelerate do: type(dl)(**public attributes)."""
    loader = stoker.DataLoader(DS, batch_size=4, num_workers="auto", max_workers=2, seed=7, on_error="skip")
    attrs = {k: v for k, v in vars(loader).items() if not k.startswith("_")}
    params = inspect.signature(stoker.DataLoader.__init__).parameters
    kwargs = {k: v for k, v in attrs.items() if k in params or k in inspect.signature(tud.DataLoader).parameters}
    kwargs.pop("batch_sampler")  # torch's own BatchSampler stands for batch_size and drop_last
    kwargs["sampler"] = tud.SequentialSampler(DS)
    rebuilt = type(loader)(**kwargs)
    assert (rebuilt.num_workers, rebuilt.autoscale, rebuilt.seed) == (2, True, 7)
    assert rebuilt.options == {"max_workers": 2, "on_error": "skip"}
    assert rebuilt.batch_size == 4 and rebuilt.sampler is kwargs["sampler"]


def test_pin_memory_without_an_accelerator_warns_as_torch_does() -> None:
    if torch.accelerator.is_available():
        pytest.skip("this machine has an accelerator; the pinning itself is checked in integration")
    with pytest.warns(UserWarning, match="'pin_memory' argument is set as true but no accelerator is found"):
        batches = list(stoker.DataLoader(DS, batch_size=8, pin_memory=True))
    assert len(batches) == 3 and not batches[0][0].is_pinned()


class Flaky(tud.Dataset[int]):
    def __len__(self) -> int:
        return 10

    def __getitem__(self, i: int) -> int:
        if i % 4 == 1:
            raise KeyError(f"no sample {i}")
        return i


def test_errors_keep_their_type_and_iteration_goes_on() -> None:
    it = iter(stoker.DataLoader(Flaky(), batch_size=2))
    got, errors = [], []
    while True:
        try:
            got.append(next(it).tolist())
        except KeyError as err:  # the user's except clause, as with torch
            assert isinstance(err, stoker.SampleError) and "--- worker traceback ---" in str(err)
            errors.append(err.indices)
        except StopIteration:
            break
    assert got == [[2, 3], [6, 7]] and errors == [(1,), (5,), (9,)]


def test_state_dict_resume_with_a_shuffling_sampler() -> None:
    """Resumed mid-epoch the rest is exact; the next epoch's shuffle then follows torch's RNG as in torch."""

    def factory() -> LoaderStream:
        torch.manual_seed(0)  # a run restarts with the seed (or RNG state) it started with
        return LoaderStream(stoker.DataLoader(DS, batch_size=4, shuffle=True))

    run_test_save_load_state(factory, lambda s: s.next(), steps=12, checkpoints=(0, 3, 6, 8, 11))


def test_resume_in_another_process_state_keeps_the_epoch_whatever_the_rng() -> None:
    a = stoker.DataLoader(DS, batch_size=4, shuffle=True)
    it = iter(a)
    head = [next(it) for _ in range(2)]
    state = pickle.loads(pickle.dumps(a.state_dict()))
    rest = list(it)
    torch.manual_seed(1234)  # another process, another global RNG: the saved epoch is kept anyway
    b = stoker.DataLoader(DS, batch_size=4, shuffle=True)
    b.load_state_dict(state)
    assert same(list(b), rest) and len(head) + len(rest) == 6


def test_state_of_another_sampler_is_refused() -> None:
    a = stoker.DataLoader(DS, batch_size=4, shuffle=True)
    next(iter(a))
    state = pickle.loads(pickle.dumps(a.state_dict()))
    b = stoker.DataLoader(DS, batch_size=4, shuffle=False)
    b.load_state_dict(state)
    with pytest.raises(ValueError, match="sampler field sampler="):
        next(iter(b))


def test_worker_init_fn_warns_once_which_guarantee_is_off() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stoker.DataLoader(DS, worker_init_fn=print)
        stoker.DataLoader(DS, worker_init_fn=print)
    texts = [str(w.message) for w in caught if "worker_init_fn" in str(w.message)]
    assert len(texts) <= 1  # once per process (0 when an earlier test already warned)


def test_a_new_iter_ends_the_previous_iterator_as_torchs_does() -> None:
    loader = stoker.DataLoader(DS, batch_size=4)
    first = iter(loader)
    assert next(first)[0].tolist() == [0, 1, 2, 3]
    second = iter(loader)  # Lightning keeps `first` referenced while it asks for this one
    assert [b[0].tolist() for b in second] == [b[0].tolist() for b in tud.DataLoader(DS, batch_size=4)]
    with pytest.raises(RuntimeError, match="superseded by a newer iter"):
        next(first)
    assert len(list(loader)) == 6  # and the epoch after it


class _SaysThree(tud.IterableDataset[int]):
    def __iter__(self) -> Any:
        return iter(range(5))

    def __len__(self) -> int:
        return 3


def test_an_iterable_past_its_reported_length_warns_as_torchs_does() -> None:
    loader = stoker.DataLoader(_SaysThree(), batch_size=None)
    it = iter(loader)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert [next(it) for _ in range(5)] == [0, 1, 2, 3, 4]  # len() not asked: no warning
    assert len(loader) == 3
    it = iter(loader)
    assert [next(it) for _ in range(3)] == [0, 1, 2]
    with pytest.warns(UserWarning, match=r"reported to be 3\(when accessing len\(dataloader\)\), but 4 samples"):
        next(it)
