"""The stream ledger alone, driven by a simulated pool of shards of known lengths."""

import random

import pytest

from stoker.data.errors import WorkerLostError
from stoker.data.streams.ledger import StreamDispatcher
from stoker.data.streams.split import StreamResult, StreamSplit, place_of, sample_id, split_of
from tests.common.state import run_test_save_load_state

B = 4


def _run(split: StreamSplit, lengths: dict[int, int]) -> StreamResult:
    """What a worker returns for a block: its records' sample ids; the end when the shard ran out."""
    length = lengths[split.shard]
    stop = min(split.stop, length)
    records = list(range(split.start, max(split.start, stop)))
    ids = [sample_id(split.shard, r, split.num_shards) for r in records]
    return StreamResult(split.key, ids, records=len(records), shard_end=length < split.stop)


def _expected(lengths: dict[int, int], shards: tuple[int, ...]) -> list[int]:
    """Round-robin over shards, one block each, skipping shards that ended (torch's worker order)."""
    out: list[int] = []
    blocks = max(-(-lengths[s] // B) for s in shards) + 1
    for b in range(blocks):
        for s in shards:
            out += [sample_id(s, r, max(lengths) + 1) for r in range(b * B, min((b + 1) * B, lengths[s]))]
    return out


def _drive(d: StreamDispatcher, lengths: dict[int, int], rng: random.Random, epoch: int) -> list[int]:
    """One epoch through a chaotic simulated pool; returns the sample ids in delivery order."""
    d.begin_epoch(epoch)
    workers = [0]
    next_id = 1
    held: dict[int, list[StreamSplit]] = {0: []}
    out: list[int] = []
    while not d.done:
        for w, split in d.assign(workers):
            held[w].append(split)
        event = rng.random()
        busy = [w for w in workers if held[w]]
        if event < 0.04 and busy:  # a worker dies with its blocks; a replacement joins
            victim = rng.choice(busy)
            if rng.random() < 0.5:  # ...after sending one result that arrives late
                late = held[victim][0]
                d.receive(victim, late.key, _run(late, lengths))
            d.lost(victim)
            workers.remove(victim)
            del held[victim]
            workers.append(next_id)
            held[next_id] = []
            next_id += 1
        elif event < 0.07 and len(workers) > 1:  # scale down by draining
            w = rng.choice(workers)
            d.drain(w)
            for split in held.pop(w):
                d.receive(w, split.key, _run(split, lengths))
            d.forget(w)
            workers.remove(w)
        elif event < 0.10 and len(workers) < 4:  # scale up
            workers.append(next_id)
            held[next_id] = []
            next_id += 1
        elif busy:  # a worker returns its oldest block (a worker runs its queue in order), sometimes twice
            w = rng.choice(busy)
            split = held[w].pop(0)
            d.receive(w, split.key, _run(split, lengths))
            if rng.random() < 0.1:
                d.receive(w, split.key, _run(split, lengths))
        while (ready := d.pop_ready()) is not None:
            out += ready[1].items
    return out


@pytest.mark.parametrize("deterministic", [True, False])
@pytest.mark.parametrize("trial", range(20))
def test_every_record_is_delivered_exactly_once_under_chaos(deterministic: bool, trial: int) -> None:
    rng = random.Random(trial)
    lengths = {s: rng.choice([0, 3, 4, 8, 13, 30]) for s in range(5)}
    d = StreamDispatcher(5, B, False, prefetch=2, deterministic=deterministic, max_attempts=1000)
    for epoch in range(2):
        got = _drive(d, lengths, rng, epoch)
        want = _expected(lengths, tuple(range(5)))
        assert sorted(got) == sorted(want) and len(set(got)) == len(got)
        if deterministic:
            assert got == want


def test_ranks_read_disjoint_shards_that_cover_the_stream() -> None:
    lengths = {s: 10 + s for s in range(6)}
    got = []
    for rank in range(3):
        d = StreamDispatcher(6, B, False, rank=rank, world_size=3)
        assert d.shards == (rank, rank + 3)
        got += _drive(d, lengths, random.Random(rank), 0)
    assert sorted(got) == sorted(_expected(lengths, tuple(range(6))))


def test_a_rank_without_shards_is_refused() -> None:
    with pytest.raises(ValueError, match="num_shards >= world_size"):
        StreamDispatcher(2, B, False, rank=2, world_size=3)


def test_a_shard_stays_with_its_worker_and_spreads_when_workers_join() -> None:
    d = StreamDispatcher(6, B, False, prefetch=2)
    d.begin_epoch(0)
    first = d.assign([0])
    assert {w for w, _ in first} == {0}
    owners = {}
    for w, split in d.assign([0, 1, 2]):
        owners.setdefault(split.shard, set()).add(w)
    # Shards with nothing in flight moved to the new workers; each shard has one owner.
    assert all(len(ws) == 1 for ws in owners.values())
    assert {1, 2} <= {w for ws in owners.values() for w in ws}


def test_a_lost_workers_shards_continue_elsewhere_from_their_offset() -> None:
    lengths = {0: 20, 1: 20}
    d = StreamDispatcher(2, B, False, prefetch=1)
    d.begin_epoch(0)
    (w, s0), (_, s1) = d.assign([0, 1])
    assert (s0.start, s1.start) == (0, 0)
    for w, split in ((0, s0), (1, s1)):
        d.receive(w, split.key, _run(split, lengths))
        d.pop_ready()
    d.assign([0, 1])
    d.lost(1)  # shard 1's block 1 comes back and goes to worker 0 at record 4
    again = d.assign([0, 2])
    blocks = {split.shard: (wk, split.start) for wk, split in again}
    assert blocks[1][1] == B and blocks[1][0] in (0, 2)
    assert d.shard_offsets() == {0: B, 1: B}


def test_a_block_lost_with_too_many_workers_is_reported() -> None:
    d = StreamDispatcher(1, B, False, max_attempts=2)
    d.begin_epoch(0)
    d.assign([0])
    d.lost(0)
    d.assign([1])
    with pytest.raises(WorkerLostError, match="split 0 of epoch 0"):
        d.lost(1)


def test_the_data_sets_state_travels_with_the_next_block() -> None:
    d = StreamDispatcher(1, B, False, prefetch=1)
    d.begin_epoch(0)
    [(w, split)] = d.assign([0])
    d.receive(w, split.key, StreamResult(split.key, [1], records=B, state={"pos": 4}))
    d.pop_ready()
    [(_, nxt)] = d.assign([0])
    assert nxt.start == B and nxt.resume == {"pos": 4}
    state = d.state_dict()
    assert state["states"] == {} or state["states"][0][0] == 1
    fresh = StreamDispatcher(1, B, False, prefetch=1)
    fresh.begin_epoch(0, fresh.delivered_from_state(state))
    [(_, resumed)] = fresh.assign([5])
    assert resumed.start == B and resumed.resume == {"pos": 4}


def test_split_numbering_round_trips() -> None:
    for k in range(50):
        i, b = place_of(k, 3)
        assert split_of(i, b, 3) == k


def test_state_round_trips_mid_epoch() -> None:
    lengths = {s: 9 + 3 * s for s in range(3)}

    class Stream:
        def __init__(self) -> None:
            self.d = StreamDispatcher(3, B, False)
            self.d.begin_epoch(0)

        def state_dict(self):
            return self.d.state_dict()

        def load_state_dict(self, state):
            self.d.begin_epoch(state["epoch"], self.d.delivered_from_state(state))

        def next(self):
            while (ready := self.d.pop_ready()) is None:
                for w, split in self.d.assign([0]):
                    self.d.receive(w, split.key, _run(split, lengths))
            return ready[1].items

    run_test_save_load_state(Stream, lambda s: s.next(), steps=9, checkpoints=[0, 4, 8, 9])


def test_state_of_another_stream_is_refused() -> None:
    a, b = StreamDispatcher(3, B, False), StreamDispatcher(4, B, False)
    a.begin_epoch(0)
    with pytest.raises(ValueError, match="virtual shards"):
        b.delivered_from_state(a.state_dict())
