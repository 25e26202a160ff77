"""Exactly-once and determinism with real worker processes, real SIGKILLs and real rescaling."""

import random

import pytest
import torch

import stoker
from tests.common.chaos import chaos, kill_random_worker, run_epochs
from tests.common.pipelines import indices_of, numbers, slow_tag
from tests.common.soak import soak_trials

N = 240
BATCH = 8


@pytest.fixture(scope="module")
def reference() -> list[list[torch.Tensor]]:
    with stoker.Loader(numbers(N, BATCH, fn=slow_tag), workers=1, seed=0) as loader:
        return run_epochs(loader, 2)


def _same(a: list[list[torch.Tensor]], b: list[list[torch.Tensor]]) -> bool:
    return len(a) == len(b) and all(
        len(x) == len(y) and all(torch.equal(p, q) for p, q in zip(x, y)) for x, y in zip(a, b)
    )


@pytest.mark.soak
@pytest.mark.parametrize("trial", range(soak_trials(8)))
def test_sigkill_random_workers_loses_and_repeats_nothing(trial, reference) -> None:
    rng = random.Random(trial)
    with stoker.Loader(numbers(N, BATCH, fn=slow_tag), workers=3, seed=0) as loader:
        got = run_epochs(loader, 2, chaos(rng, kill_p=0.08))
        stats = loader.stats()
    for epoch in got:
        assert sorted(indices_of(epoch)) == list(range(N))
    assert _same(got, reference), "deterministic mode must match the 1-worker run bit for bit"
    assert stats["workers_lost"] >= 1


@pytest.mark.soak
@pytest.mark.parametrize("trial", range(soak_trials(4)))
def test_scaling_up_and_down_mid_epoch_loses_and_repeats_nothing(trial, reference) -> None:
    rng = random.Random(100 + trial)
    with stoker.Loader(numbers(N, BATCH, fn=slow_tag), workers=1, seed=0) as loader:

        def updown(ld, step: int) -> None:  # 1 -> 3 -> 1 -> 2 -> 1 ... every few steps
            if step % 4 == 0:
                ld.scale([1, 3, 1, 2][(step // 4) % 4])
            if rng.random() < 0.03:
                kill_random_worker(ld, rng)

        got = run_epochs(loader, 2, updown)
        timeline = loader.stats()["workers_timeline"]
    assert _same(got, reference)
    assert len(timeline) > 6


def test_arrival_order_mode_is_still_exactly_once() -> None:
    rng = random.Random(7)
    with stoker.Loader(numbers(N, BATCH, fn=slow_tag), workers=2, deterministic=False) as loader:
        got = run_epochs(loader, 1, chaos(rng, kill_p=0.05, scales=(1, 2, 3), scale_p=0.1))
    assert sorted(indices_of(got[0])) == list(range(N))


def test_a_killed_worker_is_replaced() -> None:
    with stoker.Loader(numbers(N, BATCH, fn=slow_tag), workers=2) as loader:
        it = iter(loader)
        next(it)
        before = set(loader.pool.pids().values())
        kill_random_worker(loader, random.Random(0))
        rest = list(it)
        after = set(loader.pool.pids().values())
    assert len(rest) == N // BATCH - 1
    assert len(after) == 2 and after != before
