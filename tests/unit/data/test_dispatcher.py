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


def test_ranks_own_disjoint_equal_shares_that_cover_the_epoch() -> None:
    shares = []
    for rank in range(3):
        d = Dispatcher(50, 4, False, 0, rank=rank, world_size=3)
        shares.append(_drive(d, random.Random(rank), 0))
    flat = [k for s in shares for k in s]
    # 13 real splits padded to 15 so that every rank gets 5 (DDP would hang on 5/4/4).
    assert sorted(flat) == list(range(15)) and len(set(flat)) == len(flat)
    assert [len(s) for s in shares] == [5, 5, 5]


@pytest.mark.parametrize(("total_samples", "world"), [(16, 3), (16, 8), (50, 3), (9, 4)])
def test_padding_splits_repeat_samples_and_every_rank_gets_the_same_count(total_samples: int, world: int) -> None:
    ranks = [Dispatcher(total_samples, 4, False, 7, rank=r, world_size=world) for r in range(world)]
    counts = {len(d.owned) for d in ranks}
    assert len(counts) == 1 and counts.pop() >= 1
    d = ranks[0]
    d.begin_epoch(0)
    covered = [i for k in range(d.dealt) for i in d.split(k).indices]
    assert set(covered) == set(range(total_samples))  # every sample at least once
    for k in range(d.total, d.dealt):  # padding splits are full batches of real samples
        assert len(d.split(k).indices) == 4


def test_drop_last_drops_the_remainder_instead_of_padding() -> None:
    ranks = [Dispatcher(50, 4, True, 0, rank=r, world_size=5) for r in range(5)]
    assert [len(d.owned) for d in ranks] == [2] * 5  # 12 full batches, 10 dealt
    with pytest.raises(ValueError, match="every rank would get none"):
        Dispatcher(8, 4, True, 0, rank=0, world_size=3)


def test_only_the_running_split_of_a_lost_worker_counts_as_an_attempt() -> None:
    d = Dispatcher(80, 4, False, None, prefetch=4, max_attempts=2)
    d.begin_epoch(0)
    for w in range(8):  # eight workers die in turn, each holding four splits
        held = [s for _, s in d.assign([w])]
        d.receive(w, held[0].key, held[0].indices)  # it finishes the split it was running...
        assert d.running(w) == held[1].index
        d.lost(w, "was killed")  # ...and dies running the next: only that one is charged
        while d.pop_ready() is not None:
            pass
    assert d.reissued == 8 * 3  # queued splits went back without blame, and nothing was aborted


def test_a_drained_worker_that_exits_with_work_charges_no_attempt() -> None:
    d = Dispatcher(40, 4, False, None, prefetch=2, max_attempts=1)
    d.begin_epoch(0)
    d.assign([0])
    d.drain(0)
    d.forget(0)  # would raise under max_attempts=1 if it counted
    assert d.issued_count() == 0 and d.reissued == 2


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


def test_a_1e8_epoch_issues_its_first_splits_without_listing_the_rest() -> None:
    import tracemalloc

    tracemalloc.start()
    for seed in (None, 5):
        d = Dispatcher(100_000_000, 32, False, seed, prefetch=2, world_size=2, rank=1)
        d.begin_epoch(0)
        issued = d.assign([0, 1])
        assert [s.index for _, s in issued] == [1, 3, 5, 7]
        assert seed is not None or issued[0][1].indices == tuple(range(32, 64))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 1 << 20  # bytes; listing 3.1 M splits would take hundreds of MB


def test_skip_mode_traces_a_split_that_killed_a_worker_and_then_blames_one_sample() -> None:
    d = Dispatcher(8, 4, False, None, prefetch=1, max_attempts=2)
    d.skip_crashes = True
    d.begin_epoch(0)
    assert [s.trace for _, s in d.assign([0])] == [False]
    d.began(0, (0, 0))
    d.lost(0, "killed by SIGSEGV", starts_known=True)  # first death: attempt 1, the split is traced
    ((_, split),) = d.assign([1])
    assert split.index == 0 and split.trace and split.crashed == ()
    d.began(1, (0, 0, 2))  # the traced worker says it runs the sample at position 2
    d.lost(1, "killed by SIGSEGV", starts_known=True)  # blames that sample, not the split: no WorkerLostError
    ((_, split),) = d.assign([2])
    assert split.crashed == ((2, "killed by SIGSEGV"),)
    d.began(2, (0, 0))
    with pytest.raises(WorkerLostError, match="split 0"):  # a death with no sample named counts as before
        d.lost(2, "killed by SIGSEGV", starts_known=True)
