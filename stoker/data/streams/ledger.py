"""The dispatcher's ledger for streams: blocks of virtual shards, each shard's delivered offset.

Same contract as :class:`~stoker.data.dispatcher.Dispatcher` (issue, re-issue on loss, accept
the first copy, deliver once, in ``k`` order when deterministic), with three differences: the
number of splits is learnt as shards end; a shard's blocks go to one worker (its *owner*) so the
worker reads the shard sequentially; and a shard whose owner dies or is drained, or is moved to
balance the workers, continues on another worker from its block's start (see
:mod:`stoker.data.streams.runner`).
"""

from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from stoker.data.dispatcher import Dispatcher, WorkerId, _from_ranges, _to_ranges
from stoker.data.streams.split import StreamResult, StreamSplit, make_stream_split, place_of, split_of


@dataclass
class _Restored:
    """What a saved state adds to the delivered set for the epoch it resumes."""

    epoch: int
    ends: dict[int, int] = field(default_factory=dict)
    states: dict[tuple[int, int], Any] = field(default_factory=dict)


class StreamDispatcher(Dispatcher):
    """Hands out blocks of ``num_shards`` virtual shards and reassembles the stream.

    Args:
        num_shards: Virtual shards of the stream (``K``); rank ``r`` reads shards
            ``r, r + world_size, ...``.
        split_size: Records per block (the batch size for batched pipelines).
        drop_last: Drop a block the shard's end cuts short.
        prefetch: Blocks in flight per worker.
        deterministic: Deliver in ``k`` order (round-robin over shards), else on arrival.
        max_attempts: Workers a block may be lost with before the epoch fails.
        rank: This trainer's rank.
        world_size: Ranks in the job.
    """

    def __init__(
        self,
        num_shards: int,
        split_size: int,
        drop_last: bool,
        prefetch: int = 2,
        deterministic: bool = True,
        max_attempts: int = 3,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        super().__init__(0, split_size, drop_last, None, prefetch, deterministic, max_attempts, rank, world_size)
        self.num_shards = num_shards
        self.shards = tuple(range(rank, num_shards, world_size))
        if not self.shards:
            raise ValueError(
                f"a stream of num_shards={num_shards} leaves rank {rank} of world_size={world_size} no shard; "
                f"use num_shards >= world_size (a multiple of it for equal shares)"
            )
        self.m = len(self.shards)
        self._end: dict[int, int] = {}  # shard position -> its last block
        self._owner: dict[int, WorkerId] = {}
        self._states: dict[tuple[int, int], Any] = {}  # (shard position, block) -> data set state at its start
        self._frontier = 0
        self._restored: _Restored | None = None

    # -- which splits exist ------------------------------------------------------------------

    def _exists(self, k: int) -> bool:
        i, b = place_of(k, self.m)
        end = self._end.get(i)
        return end is None or b <= end

    def _last_k(self) -> int:
        """The last split of the epoch once every shard has ended, else -1."""
        if len(self._end) < self.m:
            return -1
        return max(split_of(i, e, self.m) for i, e in self._end.items())

    def _advance_next(self) -> None:
        ended = len(self._end) == self.m
        last = self._last_k()
        while self._next in self._delivered or not self._exists(self._next):
            if ended and self._next > last:
                return
            self._next += 1

    def _next_split(self) -> int:
        return self._next

    @property
    def done(self) -> bool:
        """Every shard has ended and every block up to its end has been delivered."""
        return len(self._end) == self.m and self._next > self._last_k()

    def split(self, k: int) -> StreamSplit:
        i, b = place_of(k, self.m)
        resume = self._states.get((i, b))
        return make_stream_split(
            self.epoch, k, self.shards[i], self.num_shards, b, self.split_size, self.drop_last, resume
        )

    def shard_offsets(self) -> dict[int, int]:
        """Records delivered from the start of each virtual shard this rank reads (contiguous prefix)."""
        out: dict[int, int] = {}
        for i, shard in enumerate(self.shards):
            b = 0
            while split_of(i, b, self.m) in self._delivered:
                b += 1
            out[shard] = b * self.split_size
        return out

    # -- epochs ----------------------------------------------------------------------------

    def begin_epoch(self, epoch: int, delivered: Any = ()) -> None:
        restored, self._restored = self._restored, None
        self.epoch = epoch
        self._delivered = set(delivered)
        self._end, self._states = {}, {}
        if restored is not None and restored.epoch == epoch:
            self._end, self._states = dict(restored.ends), dict(restored.states)
        self._pending = []
        self._issued.clear()
        self._attempts.clear()
        self._received.clear()
        self._owner.clear()
        self._frontier = 0
        self._next = 0
        self._advance_next()

    # -- issuing ---------------------------------------------------------------------------

    def _generate(self, limit: int) -> None:
        while self._frontier < limit:
            k = self._frontier
            self._frontier += 1
            if k in self._delivered or k in self._received or k in self._issued or not self._exists(k):
                continue
            heapq.heappush(self._pending, k)

    def _balance(self, live: list[WorkerId]) -> None:
        """Gives every shard a live owner and evens out the shards still being read."""
        active = [i for i in range(self.m) if i not in self._end]
        for i in list(self._owner):
            if self._owner[i] not in live:
                del self._owner[i]
        counts = dict.fromkeys(live, 0)
        for i in active:
            if i in self._owner:
                counts[self._owner[i]] += 1
        for i in range(self.m):
            if i not in self._owner:
                w = min(live, key=lambda x: counts[x])
                self._owner[i] = w
                if i in self._end:
                    continue
                counts[w] += 1
        busy = {place_of(k, self.m)[0] for k in self._issued}
        while True:
            hi = max(live, key=lambda x: counts[x])
            lo = min(live, key=lambda x: counts[x])
            movable = [i for i in active if self._owner[i] == hi and i not in busy]
            if counts[hi] - counts[lo] <= 1 or not movable:
                return
            # Moving a shard costs its new owner a seek (files) or a replay (iterables), so only
            # shards with nothing in flight move, and only to close a gap of two or more.
            self._owner[movable[-1]] = lo
            counts[hi] -= 1
            counts[lo] += 1

    def assign(self, workers: Any) -> list[tuple[WorkerId, StreamSplit]]:  # type: ignore[override]
        """Issues pending blocks, lowest ``k`` first, each to its shard's owner while it has room.

        Blocks more than ``window`` past the next one to deliver wait (in both modes), which
        bounds the reorder buffer and the ledger.
        """
        live = [w for w in workers if w not in self._draining]
        if not live:
            return []
        load: Counter[WorkerId] = Counter(w for w in self._issued.values() if w in live)
        window = max(len(live) * self.prefetch * 2, 2 * self.m)
        limit = self._next + window
        self._generate(limit)
        self._balance(live)
        out: list[tuple[WorkerId, StreamSplit]] = []
        waiting: list[int] = []
        while self._pending:
            k = heapq.heappop(self._pending)
            if not self._exists(k) or k in self._received or k in self._delivered:
                continue
            if k >= limit:
                waiting.append(k)
                break
            w = self._owner[place_of(k, self.m)[0]]
            if load[w] >= self.prefetch:
                waiting.append(k)
                continue
            self._issued[k] = w
            load[w] += 1
            out.append((w, self.split(k)))
        for k in waiting:
            heapq.heappush(self._pending, k)
        return out

    def lost(self, worker: WorkerId, reason: str = "was lost", starts_known: bool = False) -> list[int]:
        """Puts back the blocks ``worker`` held and frees its shards for other workers.

        Attempts are counted as for map-style splits (only the block that ran is charged).
        """
        back = super().lost(worker, reason, starts_known)
        for i in [i for i, w in self._owner.items() if w == worker]:
            del self._owner[i]
        return back

    # -- receiving and delivering ----------------------------------------------------------

    def receive(self, worker: WorkerId, key: tuple[int, int], payload: Any) -> bool:
        """Records a finished block and what it says about its shard; False for a duplicate."""
        epoch, k = key
        if epoch != self.epoch or k in self._received or k in self._delivered:
            self.duplicates += 1
            return False
        self._issued.pop(k, None)
        if not self._exists(k):  # a block past its shard's end, issued before the end was known
            return False
        if k in self._pending:
            self._pending.remove(k)
            heapq.heapify(self._pending)
        self._received[k] = payload
        if isinstance(payload, StreamResult):
            self._learn(k, payload)
        return True

    def _learn(self, k: int, result: StreamResult) -> None:
        i, b = place_of(k, self.m)
        if result.state is not None:
            self._states[(i, b + 1)] = result.state
        if not result.shard_end or self._end.get(i, b + 1) <= b:
            return
        self._end[i] = b
        gone = [j for j in (*self._issued, *self._received) if not self._exists(j)]
        for j in gone:
            self._issued.pop(j, None)
            self._received.pop(j, None)
        self._pending = [j for j in self._pending if self._exists(j)]
        heapq.heapify(self._pending)
        self._advance_next()

    def pop_ready(self) -> tuple[int, Any] | None:
        ready = super().pop_ready()
        if ready is not None:
            i, b = place_of(ready[0], self.m)
            self._states.pop((i, b), None)  # the state at this block's start is no longer needed
        return ready

    # -- state -------------------------------------------------------------------------------

    def state_dict(self, unfinished: int | None = None) -> dict[str, Any]:
        """The epoch, delivered blocks, known shard ends and data set states at each shard's offset."""
        delivered = self._delivered - {unfinished} if unfinished is not None else self._delivered
        states: dict[int, tuple[int, Any]] = {}
        for i in range(self.m):
            b = 0
            while split_of(i, b, self.m) in delivered:
                b += 1
            if (i, b) in self._states:
                states[i] = (b, self._states[(i, b)])
        return {
            "epoch": self.epoch,
            "num_shards": self.num_shards,
            "split_size": self.split_size,
            "rank": self.rank,
            "world_size": self.world_size,
            "delivered": _to_ranges(delivered),
            "ends": dict(self._end),
            "states": states,
        }

    def delivered_from_state(self, state: dict[str, Any]) -> set[int]:
        shape = (state.get("num_shards"), state.get("split_size"))
        if shape != (self.num_shards, self.split_size):
            raise ValueError(
                f"state is of a stream of {shape[0]} virtual shards and blocks of {shape[1]} records, this "
                f"Loader reads {self.num_shards} shards in blocks of {self.split_size}; load it into a Loader "
                f"over the same num_shards and batch size"
            )
        self.check_rank(state)
        states = {(i, b): s for i, (b, s) in state.get("states", {}).items()}
        self._restored = _Restored(state["epoch"], dict(state.get("ends", {})), states)
        return _from_ranges(state["delivered"])


def dispatcher_for(
    pipeline: Any,
    split_size: int,
    drop_last: bool,
    shuffle_seed: int | None,
    prefetch: int,
    deterministic: bool,
    max_attempts: int,
    rank: int,
    world_size: int,
) -> Dispatcher:
    """The ledger for a Loader's pipeline: by sample index, or by blocks of virtual shards for a
    stream (``Source.kind == "stream"``)."""
    if pipeline.source.kind != "stream":
        return Dispatcher(
            len(pipeline), split_size, drop_last, shuffle_seed, prefetch, deterministic, max_attempts, rank, world_size
        )
    if shuffle_seed is not None:
        raise ValueError(
            f"shuffle() needs sample indices and {pipeline.source.name!r} is a stream; shuffle inside the "
            f"data set (e.g. a shuffle buffer), or shuffle the shard order with from_shards(shuffle=True)"
        )
    source = pipeline.source.data
    return StreamDispatcher(
        source.num_shards, split_size, drop_last, prefetch, deterministic, max_attempts, rank, world_size
    )
