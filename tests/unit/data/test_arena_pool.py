"""The worker's bounded pool of shared-memory batch files (``transport.Arena``)."""

from __future__ import annotations

import os

import pytest
import torch

from stoker.data.transport import ARENA_MIN_BYTES, Arena, shm_dir, size_class


@pytest.fixture
def arena():
    a = Arena(os.path.join(shm_dir(), f"stoker-unit-pool-{os.getpid()}"), cap=3)
    yield a
    a.close()
    for path in list(a._maps):  # lent files the test never handed back
        if os.path.exists(path):
            os.unlink(path)


def _lend(a: Arena, nbytes: int) -> str:
    t = a.empty((nbytes // 4,), torch.float32)
    assert t is not None
    entry = a.take(t)
    assert entry is not None
    return entry[0]


def test_size_classes_round_up_by_at_most_a_quarter() -> None:
    for n in [1, ARENA_MIN_BYTES, ARENA_MIN_BYTES + 1, 100_000, 3 << 20, (5 << 20) + 7]:
        c = size_class(n)
        assert c >= n and (n < ARENA_MIN_BYTES or c <= n * 1.25 + 1)


def test_a_free_file_serves_any_smaller_request(arena: Arena) -> None:
    first = _lend(arena, 400_000)
    arena.give_back([first])
    for nbytes in (120_000, 390_000, 260_000):  # padded batches: another size every step
        path = _lend(arena, nbytes)
        assert path == first
        arena.give_back([path])
    assert arena.stats()["files"] == 1


def test_the_pool_never_exceeds_its_cap_and_grows_by_replacing(arena: Arena) -> None:
    paths = [_lend(arena, 100_000) for _ in range(3)]
    assert arena.empty((1000,), torch.float64) is None  # all lent: the caller copies instead
    arena.give_back(paths)
    big = _lend(arena, 10_000_000)  # nothing fits: the largest free file is retired for a bigger one
    assert big not in paths and arena.stats()["files"] == 3
    assert len(arena.forgotten) == 1 and not os.path.exists(arena.forgotten[0])


def test_close_leaves_lent_files_to_the_trainer(arena: Arena) -> None:
    lent = _lend(arena, 100_000)
    free = _lend(arena, 100_000)
    arena.give_back([free])
    arena.close()
    assert os.path.exists(lent)  # the trainer has not mapped it yet: a drained worker must not delete it
    assert not os.path.exists(free)
    os.unlink(lent)
