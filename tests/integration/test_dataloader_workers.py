"""stoker.DataLoader with worker processes, side by side with torch's DataLoader.

Same data, same seeds: the same batches; worker_init_fn and get_worker_info as in torch;
errors of their original type; workers start at iter() and, without persistent_workers, end
with the epoch; kills and resume keep exactly-once with samplers.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import random
import signal
import subprocess
import sys
import warnings
from typing import Any

import psutil
import pytest
import torch
import torch.utils.data as tud
from torch.utils.data.distributed import DistributedSampler

import stoker

pytestmark = pytest.mark.timeout(240)

DS = tud.TensorDataset(torch.arange(40), torch.arange(40) * 10)


def batches(loader: Any) -> list[list[int]]:
    return [b[0].tolist() for b in loader]


def my_children() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


@pytest.mark.parametrize("persistent", [False, True])
def test_shuffle_with_a_generator_same_batches_as_torch(persistent: bool) -> None:
    kw = dict(batch_size=6, shuffle=True, num_workers=2, persistent_workers=persistent)
    theirs = tud.DataLoader(DS, generator=torch.Generator().manual_seed(4), **kw)  # type: ignore[arg-type]
    with stoker.DataLoader(DS, generator=torch.Generator().manual_seed(4), **kw) as ours:  # type: ignore[arg-type]
        for _ in range(2):
            assert batches(ours) == batches(theirs)


def test_distributed_sampler_two_ranks_with_workers() -> None:
    seen: list[int] = []
    for rank in range(2):
        sampler = DistributedSampler(DS, num_replicas=2, rank=rank, seed=3)
        theirs = tud.DataLoader(DS, batch_size=4, sampler=sampler, num_workers=2)
        with stoker.DataLoader(DS, batch_size=4, sampler=sampler, num_workers=2) as ours:
            sampler.set_epoch(1)
            got = batches(ours)
            assert got == batches(theirs)
        seen += [i for b in got for i in b]
    assert sorted(seen) == list(range(40))


class WhoAmI(tud.Dataset[Any]):
    """Returns what torch tells a worker about itself."""

    def __len__(self) -> int:
        return 8

    def __getitem__(self, i: int) -> Any:
        info = tud.get_worker_info()
        return torch.tensor(
            [info.id, info.num_workers, info.seed, torch.initial_seed(), getattr(info.dataset, "tag", -1)]
        )


def tag_dataset(worker_id: int) -> None:
    tud.get_worker_info().dataset.tag = 100 + worker_id  # type: ignore[union-attr]


def test_worker_init_fn_and_get_worker_info_as_in_torch() -> None:
    def rows(cls: Any) -> set[tuple[int, ...]]:
        loader = cls(
            WhoAmI(),
            batch_size=2,
            num_workers=2,
            worker_init_fn=tag_dataset,
            generator=torch.Generator().manual_seed(8),
        )
        return {tuple(r) for b in loader for r in b.tolist()}

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours, theirs = rows(stoker.DataLoader), rows(tud.DataLoader)
    assert ours == theirs  # same ids, num_workers, seeds (base_seed + id) and per-worker dataset copy
    assert {r[0] for r in ours} == {0, 1} and all(r[2] == r[3] and r[4] == 100 + r[0] for r in ours)
    assert tud.get_worker_info() is None


class Flaky(tud.Dataset[int]):
    def __len__(self) -> int:
        return 30

    def __getitem__(self, i: int) -> int:
        if i % 7 == 3:
            raise KeyError(f"bad sample {i}")
        return i


def test_worker_errors_keep_their_type_and_iteration_goes_on() -> None:
    def run(cls: Any) -> tuple[list[list[int]], int]:
        it, got, errors = iter(cls(Flaky(), batch_size=3, num_workers=2)), [], 0
        while True:
            try:
                got.append(next(it).tolist())
            except KeyError as err:
                errors += 1
                if cls is stoker.DataLoader:
                    assert isinstance(err, stoker.SampleError) and err.op.startswith("read")
                    assert "sample" in str(err) and "--- worker traceback ---" in str(err)
            except StopIteration:
                return got, errors

    assert run(stoker.DataLoader) == run(tud.DataLoader)


def test_workers_start_at_iter_and_end_with_the_epoch() -> None:
    before = my_children()
    with pytest.warns(UserWarning, match="excessive worker creation might get DataLoader running slow"):
        many = stoker.DataLoader(DS, num_workers=1000)
    loader = stoker.DataLoader(DS, batch_size=8, num_workers=2)
    assert my_children() == before and many.pool is None and loader.pool is None  # nothing started yet
    it = iter(loader)
    next(it)
    workers = loader.pool.processes()
    assert len(workers) == 2 and all(w.is_alive() for w in workers)
    list(it)
    for w in workers:
        w.join(30)
        assert not w.is_alive()  # persistent_workers=False: torch ends workers with the epoch
    with stoker.DataLoader(DS, batch_size=8, num_workers=2, persistent_workers=True) as kept:
        list(kept)
        pids = set(kept.pool.pids().values())
        list(kept)
        assert set(kept.pool.pids().values()) == pids


def _clone_collate(b: list[torch.Tensor]) -> list[torch.Tensor]:
    return [x.clone() for x in b]


def test_nested_tensors_cross_the_transport() -> None:
    data = [torch.nested.nested_tensor([torch.randn(5), torch.randn(i + 1)]) for i in range(6)]
    got = list(stoker.DataLoader(data, batch_size=1, num_workers=2, collate_fn=_clone_collate))
    assert all(torch.equal(g[0].to_padded_tensor(0.0), d.to_padded_tensor(0.0)) for g, d in zip(got, data))
    with pytest.raises(RuntimeError, match="not currently supported by the default collate_fn") as err:
        next(iter(stoker.DataLoader(data, batch_size=1, num_workers=2)))
    assert isinstance(err.value, stoker.SampleError) and "collate" in err.value.op  # blames the collate, not the data


def test_kills_keep_exactly_once_with_a_sampler() -> None:
    sampler = tud.WeightedRandomSampler([1.0] * 40, 40, replacement=False, generator=torch.Generator().manual_seed(1))
    want = batches(tud.DataLoader(DS, batch_size=2, sampler=sampler))
    sampler.generator.manual_seed(1)
    rng = random.Random(0)
    with stoker.DataLoader(DS, batch_size=2, sampler=sampler, num_workers=3, persistent_workers=True) as loader:
        got = []
        for step, b in enumerate(loader):
            got.append(b[0].tolist())
            if step in (2, 9):
                os.kill(rng.choice(list(loader.pool.pids().values())), signal.SIGKILL)
        assert got == want and loader.stats()["splits_reissued"] >= 1


RESUME = """
import pickle, sys, torch, torch.utils.data as tud, stoker
torch.manual_seed(999)  # another process, another RNG: the saved epoch must win
ds = tud.TensorDataset(torch.arange(40), torch.arange(40) * 10)
loader = stoker.DataLoader(ds, batch_size=4, shuffle=True, num_workers=2)
loader.load_state_dict(pickle.load(open(sys.argv[1], "rb")))
print([b[0].tolist() for b in loader])
"""


def test_resume_mid_epoch_in_a_new_process(tmp_path: Any) -> None:
    loader = stoker.DataLoader(DS, batch_size=4, shuffle=True, num_workers=2)
    it = iter(loader)
    head = [next(it)[0].tolist() for _ in range(4)]
    (tmp_path / "state.pkl").write_bytes(pickle.dumps(loader.state_dict()))
    rest = [b[0].tolist() for b in it]
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    out = subprocess.run(
        [sys.executable, "-c", RESUME, str(tmp_path / "state.pkl")],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    assert eval(out.stdout.strip().splitlines()[-1]) == rest
    assert sorted(i for b in head + rest for i in b) == list(range(40))


def test_auto_workers_same_batches_and_kept_between_epochs() -> None:
    theirs = tud.DataLoader(DS, batch_size=5, shuffle=True, generator=torch.Generator().manual_seed(2))
    with stoker.DataLoader(
        DS, batch_size=5, shuffle=True, generator=torch.Generator().manual_seed(2), num_workers="auto"
    ) as ours:
        assert batches(ours) == batches(theirs)
        pool = ours.pool
        assert batches(ours) == batches(theirs) and ours.pool is pool and ours.stats()["autoscale"]


class Counted(tud.Dataset[int]):
    """Counts its reads in a multiprocessing Value, as torch's own tests and many scripts do."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.reads = ctx.Value("i", 0, lock=True)

    def __len__(self) -> int:
        return 12

    def __getitem__(self, i: int) -> int:
        with self.reads.get_lock():
            self.reads.value += 1
        return i


def test_multiprocessing_values_in_the_dataset_are_shared_with_workers() -> None:
    ds = Counted()
    assert [b.tolist() for b in stoker.DataLoader(ds, batch_size=4, num_workers=2)] == [
        [0, 1, 2, 3],
        [4, 5, 6, 7],
        [8, 9, 10, 11],
    ]
    assert ds.reads.value == 12  # the workers' increments reached the trainer's Value


def _slow(i: int) -> int:
    import time

    time.sleep(5)
    return i


def test_timeout_is_worded_as_torch_words_it() -> None:
    with pytest.raises(RuntimeError, match=r"DataLoader timed out after 1 seconds") as err:
        next(iter(stoker.DataLoader(_SlowDataset(), batch_size=2, num_workers=1, timeout=1)))
    assert isinstance(err.value, stoker.StokerError)


class _SlowDataset(tud.Dataset[int]):
    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int) -> int:
        return _slow(i)
