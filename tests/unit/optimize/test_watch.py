"""The watch sees a draw from every generator stoker seeds per sample, and nothing else."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import stoker
from stoker.data.rng import seeded
from stoker.optimize import watch
from stoker.optimize.watch import Snapshot

DRAWS: dict[str, Callable[[], Any]] = {
    "random": random.random,
    "random.gauss": lambda: random.gauss(0, 1),
    "random 624 words": lambda: [random.getrandbits(32) for _ in range(624)],  # index wraps to where it was
    "numpy": np.random.rand,
    "numpy 624 words": lambda: np.random.randint(0, 2**32, size=624, dtype=np.uint64),
    "numpy normal": np.random.standard_normal,
    "torch": lambda: torch.rand(1),
    "sample_rng": lambda: stoker.sample_rng().random(),
    "sample_generator": lambda: torch.rand(1, generator=stoker.sample_generator()),
    "asked for a generator": stoker.sample_rng,
}


@pytest.mark.parametrize("name", DRAWS)
def test_every_kind_of_draw_is_seen(name) -> None:
    with seeded(0, 0, 11):
        before = Snapshot.take()
        assert not before.drew_since()
        DRAWS[name]()
        assert before.drew_since()


def test_a_second_draw_from_a_per_sample_generator_is_seen() -> None:
    with seeded(0, 0, 11):
        gen = stoker.sample_rng()
        before = Snapshot.take()
        assert not before.drew_since()
        gen.random()
        assert before.drew_since()


def test_deterministic_work_is_not_a_draw() -> None:
    with seeded(0, 0, 11):
        before = Snapshot.take()
        np.random.default_rng(3).random(10)  # a generator the function owns (documented as unseen)
        torch.arange(10).sum()
        assert not before.drew_since()


def test_the_fast_readers_agree_with_the_portable_ones() -> None:
    assert watch._fast_readers_work()
    random.seed(5)
    np.random.seed(5)
    a = (watch._fast_py(), watch._fast_np(), watch._slow_py(), watch._slow_np())
    random.random()
    np.random.rand()
    b = (watch._fast_py(), watch._fast_np(), watch._slow_py(), watch._slow_np())
    assert all(x != y for x, y in zip(a, b))
