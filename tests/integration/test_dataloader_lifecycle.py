"""stoker.DataLoader's life cycle as Lightning and accelerate drive it, against torch's DataLoader.

Frameworks stop an epoch after ``len(loader)`` batches without reaching ``StopIteration``, keep the
old iterator until the new ``iter()`` returns, stop a sanity check after 2 batches and interleave a
validation loader with the training one. Each test drives torch's class and stoker's with the same
calls and compares the batches; stoker's must come from its worker processes.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.utils.data as tud

import stoker

DS = tud.TensorDataset(torch.arange(40))


def _drive(make: Callable[..., Any], script: Callable[[Any, Any], list[Any]], shuffle: bool) -> list[list[int]]:
    """Runs ``script(train, val)`` over two loaders built by ``make`` and returns the batches it took."""
    train = make(DS, batch_size=4, shuffle=shuffle, generator=torch.Generator().manual_seed(1), num_workers=2)
    val = make(DS, batch_size=8, num_workers=1)
    try:
        return [b[0].tolist() for b in script(train, val)]
    finally:
        for loader in (train, val):
            if isinstance(loader, stoker.DataLoader):
                loader.close()


def _take(it: Any, n: int) -> list[Any]:
    return [next(it) for _ in range(n)]


def _lightning_like(train: Any, val: Any) -> list[Any]:
    """Sanity check (2 val batches, iterator dropped), then 3 epochs stopped at len() with validation."""
    out = _take(iter(val), 2)
    it = None
    for _ in range(3):
        it = iter(train)  # the previous epoch's iterator is still referenced here, as in Lightning
        out += _take(it, len(train))
        out += list(val)
    return out


def _abandon_mid_epoch(train: Any, val: Any) -> list[Any]:
    first = iter(train)
    out = _take(first, 3)
    second = iter(train)  # torch: a new iter() ends the old one
    out += list(second)
    out += list(train)
    return out


# Shuffled epochs after one abandoned mid-epoch differ from torch's: torch's RandomSampler draws one more
# randperm when its iterator reaches its end, and stoker draws whole epochs (docs/migration.md says so).
@pytest.mark.parametrize("persistent", [False, True])
@pytest.mark.parametrize(("script", "shuffle"), [(_lightning_like, True), (_abandon_mid_epoch, False)])
def test_framework_style_epochs_equal_torchs(
    script: Callable[[Any, Any], list[Any]], shuffle: bool, persistent: bool
) -> None:
    def make(cls: type) -> Callable[..., Any]:
        return lambda *a, **k: cls(*a, persistent_workers=persistent, **k)

    theirs = _drive(make(tud.DataLoader), script, shuffle)
    ours = _drive(make(stoker.DataLoader), script, shuffle)
    assert ours == theirs


def test_an_abandoned_shuffled_epoch_is_followed_by_whole_epochs() -> None:
    loader = stoker.DataLoader(DS, batch_size=4, shuffle=True, num_workers=2, persistent_workers=True)
    with loader:
        batches = _abandon_mid_epoch(loader, None)
    assert len(batches) == 23
    for epoch in (batches[3:13], batches[13:]):
        assert sorted(int(i) for b in epoch for i in b[0]) == list(range(40))


def test_a_new_iter_keeps_persistent_workers_and_stats_show_they_made_the_batches() -> None:
    with stoker.DataLoader(DS, batch_size=4, num_workers=2, persistent_workers=True) as loader:
        first = iter(loader)
        next(first)
        pids = set(loader.pool.pids().values())
        assert os.getpid() not in pids and len(pids) == 2
        second = iter(loader)
        assert len(list(second)) == 10
        assert set(loader.pool.pids().values()) == pids  # persistent: the same processes
        assert loader.stats()["epoch"] == 1
        with pytest.raises(RuntimeError, match="superseded by a newer iter"):
            next(first)


def test_an_iterator_dropped_mid_epoch_stops_its_workers_as_torchs_does() -> None:
    loader = stoker.DataLoader(DS, batch_size=4, num_workers=2)
    it = iter(loader)
    next(it)
    procs = list(it._workers)
    assert len(procs) == 2
    del it
    gc.collect()
    deadline = time.monotonic() + 10
    while any(p.is_alive() for p in procs) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(p.is_alive() for p in procs)
    assert loader.pool is None
    assert len(list(loader)) == 10  # and the next epoch starts fresh workers
    loader.close()


def test_several_loaders_in_one_process_interleaved() -> None:
    loaders = [stoker.DataLoader(DS, batch_size=b, num_workers=1, persistent_workers=True) for b in (4, 5, 8)]
    try:
        its = [iter(dl) for dl in loaders]
        got: list[list[int]] = [[], [], []]
        for _ in range(5):
            for i, it in enumerate(its):
                got[i] += next(it)[0].tolist()
        assert got == [list(range(20)), list(range(25)), list(range(40))]
        pids = [next(iter(dl.pool.pids().values())) for dl in loaders]
        assert len(set(pids)) == 3
    finally:
        for dl in loaders:
            dl.close()
