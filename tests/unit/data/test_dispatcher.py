"""The ledger alone, driven by a simulated pool: random losses, duplicates, drains and scaling."""

import random

import pytest

from stoker.data.dispatcher import Dispatcher
from stoker.data.errors import WorkerLostError
from tests.common.state import run_test_save_load_state


def _drive(d: Dispatcher, rng: random.Random, epoch: int) -> list[int]:
    """Runs one epoch through a chaotic simulated pool; returns split ids in delivery order."""
    d.begin_epoch(epoch)
    workers = [0, 1]
    next_id = 2
    held: dict[int, list] = {w: [] for w in workers}
    out: list[int] = []
    while not d.done:
        for w, split in d.assign(workers):
            held[w].append(split)
        event = rng.random()
        busy = [w for w in workers if held[w]]
        if event < 0.05 and busy:  # a worker dies with its splits; a replacement joins
            victim = rng.choice(busy)
            if rng.random() < 0.5 and held[victim]:  # ...after sending one result that arrives late
                late = held[victim][0]
                d.receive(victim, late.key, late.indices)
            d.lost(victim)
            workers.remove(victim)
            del held[victim]
            workers.append(next_id)
            held[next_id] = []
            next_id += 1
        elif event < 0.08 and len(workers) > 1:  # scale down by draining
            w = rng.choice(workers)
            d.drain(w)
            for split in held.pop(w):
                d.receive(w, split.key, split.indices)
            d.forget(w)
            workers.remove(w)
        elif event < 0.10 and len(workers) < 4:  # scale up
            workers.append(next_id)
            held[next_id] = []
            next_id += 1
        elif busy:  # a worker returns one result, sometimes twice
            w = rng.choice(busy)
            split = held[w].pop(rng.randrange(len(held[w])))
            d.receive(w, split.key, split.indices)
            if rng.random() < 0.1:
                d.receive(w, split.key, split.indices)
        while (ready := d.pop_ready()) is not None:
            out.append(ready[0])
    return out


@pytest.mark.parametrize("deterministic", [True, False])
@pytest.mark.parametrize("trial", range(20))
def test_every_split_is_delivered_exactly_once_under_chaos(deterministic: bool, trial: int) -> None:
    d = Dispatcher(101, 4, False, shuffle_seed=trial, prefetch=2, deterministic=deterministic, max_attempts=1000)
    rng = random.Random(trial)
    for epoch in range(2):
        order = _drive(d, rng, epoch)
        assert sorted(order) == list(range(d.total))
        if deterministic:
            assert order == list(range(d.total))


def test_ranks_own_disjoint_shares_that_cover_the_epoch() -> None:
    shares = []
    for rank in range(3):
        d = Dispatcher(50, 4, False, 0, rank=rank, world_size=3)
        shares.append(_drive(d, random.Random(rank), 0))
    flat = [k for s in shares for k in s]
    assert sorted(flat) == list(range(13)) and len(set(flat)) == len(flat)


def test_a_split_that_keeps_killing_workers_is_reported() -> None:
    d = Dispatcher(10, 2, False, None, max_attempts=2)
    d.begin_epoch(0)
    for w in range(2):
        d.assign([w])
        if w == 0:
            d.lost(0)
    with pytest.raises(WorkerLostError, match="split 0 of epoch 0"):
        d.lost(1)


def test_results_from_another_epoch_are_dropped() -> None:
    d = Dispatcher(10, 5, False, None)
    d.begin_epoch(1)
    assert not d.receive(0, (0, 0), "late")
    assert d.duplicates == 1


def test_state_round_trips_mid_epoch() -> None:
    class Stream:
        """Delivers splits one by one; state is the ledger's delivered set."""

        def __init__(self) -> None:
            self.d = Dispatcher(40, 3, False, 5)
            self.d.begin_epoch(0)

        def state_dict(self):
            return self.d.state_dict()

        def load_state_dict(self, state):
            self.d.begin_epoch(state["epoch"], self.d.delivered_from_state(state))

        def next(self):
            for w, split in self.d.assign([0]):
                self.d.receive(w, split.key, split.indices)
            return self.d.pop_ready()

    run_test_save_load_state(Stream, lambda s: s.next(), steps=14, checkpoints=[0, 5, 13, 14])


def test_state_from_another_pipeline_is_refused() -> None:
    a, b = Dispatcher(40, 3, False, 0), Dispatcher(40, 4, False, 0)
    a.begin_epoch(0)
    with pytest.raises(ValueError, match="splits per epoch"):
        b.delivered_from_state(a.state_dict())
