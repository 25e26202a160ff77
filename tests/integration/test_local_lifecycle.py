"""``close()`` from inside the loop, from another thread and twice; one live iterator at a time;
worker-side failures of every kind reach the trainer with their type and message."""

from __future__ import annotations

import os
import sys
import threading

import psutil
import pytest
import torch

import stoker
from stoker.backends.lifeline import shm_prefix
from stoker.data.transport import shm_dir
from tests.common.pipelines import big, numbers, slow_tag


def _gone(pids: list[int]) -> bool:
    return all(not psutil.pid_exists(p) or psutil.Process(p).status() == psutil.STATUS_ZOMBIE for p in pids)


def _my_files() -> list[str]:
    prefix = os.path.basename(shm_prefix(os.getpid()))
    return [f for f in os.listdir(shm_dir()) if f.startswith(prefix)]


def test_close_inside_the_loop_ends_it_and_leaves_nothing_even_when_called_twice() -> None:
    loader = stoker.Loader(stoker.from_items(list(range(400))).map(big).batch(8), workers=2)
    got = 0
    for _ in loader:
        got += 1
        if got == 3:
            pids = list(loader.pool.pids().values())
            loader.close()  # used to respawn workers and hang
            loader.close()
    assert got == 3
    state = loader.state_dict()
    assert not state["complete"] and state["epoch"] == 0  # closing is not finishing the epoch
    assert pids and _gone(pids)
    assert loader.pool.workers() == []
    assert _my_files() == []
    with pytest.raises(stoker.StokerError, match="closed"):
        iter(loader)


def test_close_from_another_thread_stops_the_trainers_loop() -> None:
    loader = stoker.Loader(numbers(4000, 8, fn=slow_tag), workers=2)
    it = iter(loader)
    next(it)
    pids = list(loader.pool.pids().values())
    closer = threading.Timer(0.3, loader.close)
    closer.start()
    rest = sum(1 for _ in it)  # ends (early) instead of raising or hanging
    closer.join()
    assert rest < 499
    assert _gone(pids) and loader.pool.workers() == []


def test_a_second_iter_while_the_first_is_live_raises() -> None:
    with stoker.Loader(numbers(64, 8), workers=1) as loader:
        first = iter(loader)
        next(first)
        with pytest.raises(stoker.StokerError, match="another iterator over this Loader is still live"):
            iter(loader)
        assert len(list(first)) == 7  # the first one was not disturbed
        assert len(list(loader)) == 8  # exhausted: the next epoch may start


def make_generator(i: int):
    return (x for x in range(i))


def exits(i: int) -> int:
    if i == 3:
        sys.exit(4)
    return i


def interrupts(i: int) -> int:
    if i == 3:
        raise KeyboardInterrupt("stop right there")
    return i


@pytest.mark.parametrize(
    ("fn", "type_name", "text"),
    [
        (make_generator, "TypeError", "generator"),
        (exits, "SystemExit", "4"),
        (interrupts, "KeyboardInterrupt", "stop right there"),
    ],
)
def test_worker_side_failures_reach_the_trainer_with_type_and_message(fn, type_name: str, text: str) -> None:
    pipe = stoker.from_items(list(range(8))).map(fn)
    with stoker.Loader(pipe, workers=1, split_size=4) as loader:
        with pytest.raises(stoker.SampleError) as info:
            list(loader)
        assert loader.stats()["workers_lost"] == 0  # the worker survived: it reported, not crashed
    message = str(info.value)
    assert type_name in message and text in message, message
    assert "crash" not in message.split("---")[0]


def test_sparse_results_travel_pickled_instead_of_crashing_the_worker() -> None:
    pipe = stoker.from_items(list(range(4))).map(lambda i: torch.eye(3).to_sparse() * i)
    with stoker.Loader(pipe, workers=1, split_size=2) as loader:
        items = list(loader)
        assert loader.stats()["workers_lost"] == 0
    assert len(items) == 4 and torch.equal(items[2].to_dense(), torch.eye(3) * 2)
