"""Workers forked from the template: they inherit the trainer's pipeline object and modules, start
without a fresh interpreter, and the template ends with its pool (stoker.backends.template)."""

from __future__ import annotations

import os
import sys
import types

import psutil
import pytest
import torch

import stoker
from stoker.backends.template import HeldPipeline


class _Where:
    """Each item: (address of the source list, parent pid, whether a trainer-only module is loaded)."""

    def __init__(self, n: int) -> None:
        self.data = list(range(n))

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> tuple[int, int, bool]:
        return id(self.data), os.getppid(), "stoker_trainer_only" in sys.modules


def test_workers_are_forks_of_one_template_that_holds_the_pipeline_unpickled(monkeypatch) -> None:
    # A module only the trainer imported (as a user's torchvision would be): a worker started
    # from a fresh interpreter or an unpickled pipeline would not have it.
    monkeypatch.setitem(sys.modules, "stoker_trainer_only", types.ModuleType("stoker_trainer_only"))
    ds = _Where(32)
    with stoker.Loader(stoker.from_dataset(ds).batch(4, collate=list), workers=2) as loader:
        items = [x for batch in loader for x in batch]
        template = loader.pool._template  # type: ignore[union-attr]
        assert template is not None and template.pid is not None
        assert psutil.Process(template.pid).ppid() == os.getpid()
        worker_parents = {psutil.Process(p).ppid() for p in loader.pool.pids().values()}  # type: ignore[union-attr]
    assert worker_parents == {template.pid}
    # Same address as the trainer's list: inherited by fork, not a private unpickled copy.
    assert {a for a, _, _ in items} == {id(ds.data)}
    assert {p for _, p, _ in items} == {template.pid}
    assert all(loaded for _, _, loaded in items)
    assert not psutil.pid_exists(template.pid) or psutil.Process(template.pid).status() == psutil.STATUS_ZOMBIE


def test_other_start_methods_still_unpickle_a_private_copy() -> None:
    ds = _Where(8)
    with stoker.Loader(stoker.from_dataset(ds).batch(4, collate=list), workers=1, mp_context="forkserver") as loader:
        items = [x for batch in loader for x in batch]
        assert loader.pool._template is None  # type: ignore[union-attr]
    assert {loaded for _, _, loaded in items} == {False}


def test_a_held_pipeline_outside_its_template_says_so() -> None:
    with pytest.raises(RuntimeError, match="not held by this process"):
        HeldPipeline("nope").get()


def test_an_unknown_start_method_is_refused_naming_the_choices() -> None:
    with pytest.raises(ValueError, match=r"mp_context='nope'.*template"):
        stoker.Loader(stoker.from_items([1, 2]), workers=1, mp_context="nope")


class _Tagged(torch.utils.data.Dataset):
    """Each item: (the data set's tag as the worker sees it, worker pid)."""

    def __init__(self) -> None:
        self.tag = "epoch 0"

    def __len__(self) -> int:
        return 8

    def __getitem__(self, i: int) -> tuple[str, int]:
        return self.tag, os.getpid()


def test_without_persistent_workers_each_epoch_forks_workers_that_see_the_data_set_as_it_is_then() -> None:
    ds = _Tagged()
    loader = stoker.DataLoader(ds, batch_size=4, num_workers=2, collate_fn=list)
    first = [x for batch in loader for x in batch]
    ds.tag = "epoch 1"  # as torch's fresh workers would, the next epoch's workers see this
    second = [x for batch in loader for x in batch]
    assert {t for t, _ in first} == {"epoch 0"} and {t for t, _ in second} == {"epoch 1"}
    assert not {p for _, p in first} & {p for _, p in second}  # fresh worker processes
