"""The dispatcher's ledger: which split is pending, issued to whom, received, delivered.

Exactly-once is a property of this bookkeeping, not of luck: a split is issued to one worker
at a time, re-issued when that worker is lost, accepted from the first worker that returns it
and dropped as a duplicate after that, and handed to the trainer once. Backend-agnostic and
free of processes, so the unit tier tests it directly.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import replace
from typing import Any

from stoker.data.balance import Balancer
from stoker.data.errors import WorkerLostError
from stoker.data.order import Natural, Order
from stoker.data.splits import Split, epoch_order, make_split, num_splits, padded_splits

WorkerId = Hashable


def _to_ranges(values: Iterable[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for v in sorted(values):
        if out and out[-1][1] == v:
            out[-1] = (out[-1][0], v + 1)
        else:
            out.append((v, v + 1))
    return out


def _from_ranges(ranges: Iterable[Iterable[int]]) -> set[int]:
    return {v for a, b in ranges for v in range(a, b)}


class Dispatcher:
    """Hands out the splits of one epoch at a time and reassembles the stream.

    Args:
        length: Samples in the source.
        split_size: Samples per split (the batch size for batched pipelines).
        drop_last: Drop an incomplete last split.
        shuffle_seed: None for natural order, else the shuffle seed.
        prefetch: Splits in flight per worker.
        deterministic: Deliver in split order (else in arrival order).
        max_attempts: Workers a split may be lost with before the epoch fails.
        rank: This trainer's rank in a data-parallel job.
        world_size: Number of ranks; rank ``r`` owns splits ``r, r + world_size, ...`` of every
            epoch, so ranks get disjoint shares that together cover the epoch exactly once.
            When the splits do not divide evenly, the epoch is padded with splits that repeat
            samples (or, with ``drop_last``, cut), so every rank gets the same count.
    """

    def __init__(
        self,
        length: int,
        split_size: int,
        drop_last: bool,
        shuffle_seed: int | None,
        prefetch: int = 2,
        deterministic: bool = True,
        max_attempts: int = 3,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if prefetch < 1:
            raise ValueError(f"{prefetch=} should be >= 1")
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"{rank=} should be in [0, {world_size=})")
        self.length = length
        self.split_size = split_size
        self.drop_last = drop_last
        self.shuffle_seed = shuffle_seed
        self.prefetch = prefetch
        self.deterministic = deterministic
        self.max_attempts = max_attempts
        self.total = num_splits(length, split_size, drop_last)
        self.rank = rank
        self.world_size = world_size
        self.dealt = padded_splits(self.total, world_size, drop_last)
        if self.dealt == 0 and self.total > 0:  # total 0: a stream, whose blocks its own ledger counts
            raise ValueError(
                f"{self.total} splits cannot be dealt equally to {world_size=} ranks with drop_last=True: "
                f"every rank would get none. Use a smaller batch size, fewer ranks, or drop_last=False."
            )
        self.owned = range(rank, self.dealt, world_size)
        self.epoch = -1
        self._explicit: Sequence[tuple[Any, ...]] | None = None  # splits drawn from a sampler
        self._order: Order = Natural(0)
        self._pending: list[int] = []  # a heap of the splits known to wait: re-issues and a few fresh ones
        self._fresh = 0  # position in self.owned of the first split never put in _pending this epoch
        self._issued: dict[int, WorkerId] = {}
        self._attempts: dict[int, int] = {}
        self._received: dict[int, Any] = {}
        self._delivered: set[int] = set()
        self._next = 0  # deterministic mode: position in self.owned of the next split to deliver
        self._draining: set[WorkerId] = set()
        self._began: dict[WorkerId, int] = {}  # worker -> split it reported running
        self._at: dict[WorkerId, int] = {}  # worker -> sample position it reported, in a traced split
        # With on_error="skip" (the Loader sets skip_crashes), a split that killed a worker is
        # traced: its worker reports every sample, and the next crash skips just that sample.
        self.skip_crashes = False
        self._traced: set[int] = set()
        self._crashed: dict[int, list[tuple[int, str]]] = {}
        self.duplicates = 0
        self.reissued = 0
        # Pads splits that come back short so ranks stay equal; the Loader enables it (balance.py).
        self.balance = Balancer(False, rank)

    # -- epochs ----------------------------------------------------------------------------

    def use_splits(self, splits: Sequence[tuple[Any, ...]]) -> None:
        """Makes the next epoch's splits exactly ``splits`` (sample indices drawn by a sampler).

        Call before :meth:`begin_epoch` (and before :meth:`delivered_from_state` when resuming);
        the epoch then has ``len(splits)`` splits, this rank owning every ``world_size``-th.
        """
        self._explicit = splits
        self.total = len(splits)
        self.owned = range(self.rank, self.total, self.world_size)

    def begin_epoch(self, epoch: int, delivered: Iterable[int] = ()) -> None:
        """Starts ``epoch``; ``delivered`` lists splits already consumed (when resuming)."""
        self.epoch = epoch
        if self._explicit is None:
            self._order = epoch_order(self.length, epoch, self.shuffle_seed)
        self._delivered = set(delivered)
        self._pending = []  # filled lazily (_top_up): an epoch of 1e8 samples costs nothing up front
        self._fresh = 0
        self._issued.clear()
        self._began.clear()
        self._at.clear()
        self._traced.clear()
        self._crashed.clear()
        self._attempts.clear()
        self._received.clear()
        self._next = 0
        self._advance_next()

    def _advance_next(self) -> None:
        while self._next < len(self.owned) and self.owned[self._next] in self._delivered:
            self._next += 1

    def _next_split(self) -> int:
        return self.owned[self._next] if self._next < len(self.owned) else self.dealt

    @property
    def done(self) -> bool:
        """Every split of this rank's share of the epoch has been delivered."""
        return len(self._delivered) == len(self.owned)

    def split(self, k: int) -> Split:
        if self._explicit is not None:
            split = Split(self.epoch, k, tuple(self._explicit[k]))
        else:
            split = make_split(self._order, self.epoch, k, self.split_size, self.total)
        if k in self._traced:
            return replace(split, trace=True, crashed=tuple(self._crashed.get(k, ())))
        return split

    # -- what the Loader may ask (it never reads the private fields) ---------------------------

    def is_draining(self, worker: WorkerId) -> bool:
        return worker in self._draining

    def queued(self) -> int:
        """Splits received and waiting for the trainer (the reorder buffer)."""
        return len(self._received)

    def delivered_count(self) -> int:
        return len(self._delivered)

    def undeliver(self, k: int) -> None:
        """Marks split ``k`` as not consumed (it failed), so a state saved now makes a resume retry it."""
        self._delivered.discard(k)

    def running(self, worker: WorkerId) -> int | None:
        """The split ``worker`` is computing now: the one it reported, else the oldest it holds
        (workers run in issue order)."""
        if worker in self._began:
            return self._began[worker]
        held = self.in_flight(worker)
        return held[0] if held else None

    def began(self, worker: WorkerId, key: tuple[int, ...]) -> None:
        """``worker`` reports it started split ``key``: (epoch, split) or, traced, (epoch, split, sample position)."""
        epoch, k = key[0], key[1]
        if epoch == self.epoch and self._issued.get(k) == worker:
            self._began[worker] = k
            if len(key) > 2:
                self._at[worker] = key[2]
            else:
                self._at.pop(worker, None)

    # -- issuing ---------------------------------------------------------------------------

    def in_flight(self, worker: WorkerId) -> list[int]:
        return [k for k, w in self._issued.items() if w == worker]

    def _top_up(self, want: int) -> None:
        """Moves fresh splits, in order, into the pending heap until it holds ``want``.

        Every fresh split is larger than any split already put back (those were issued before
        it), so the heap's smallest is still the smallest split waiting.
        """
        while len(self._pending) < want and self._fresh < len(self.owned):
            k = self.owned[self._fresh]
            self._fresh += 1
            if k not in self._delivered and k not in self._received and k not in self._issued:
                heapq.heappush(self._pending, k)

    def owned_samples(self) -> int:
        """Samples in this rank's share of the current epoch (padding splits count in full)."""
        if self._explicit is not None:
            counted = getattr(self._explicit, "samples_in", None)  # RangeSplits counts without listing
            return counted(self.owned) if counted else sum(len(self._explicit[k]) for k in self.owned)
        last = self.total - 1  # only the last real split can be short (without drop_last)
        short = max(0, (last + 1) * self.split_size - self.length)
        return len(self.owned) * self.split_size - (short if last in self.owned else 0)

    def assign(self, workers: Iterable[WorkerId]) -> list[tuple[WorkerId, Split]]:
        """Issues pending splits, lowest first, to workers below their prefetch depth.

        In deterministic mode no split more than ``window`` ahead of the next one to deliver is
        issued, which bounds the reorder buffer when one worker straggles.
        """
        live = [w for w in workers if w not in self._draining]
        self._top_up(len(live) * self.prefetch)
        load = {w: 0 for w in live}
        for w in self._issued.values():
            if w in load:
                load[w] += 1
        window = max(1, len(live)) * self.prefetch * 2
        out: list[tuple[WorkerId, Split]] = []
        while self._pending and live:
            w = min(live, key=lambda x: load[x])
            if load[w] >= self.prefetch:
                break
            k = self._pending[0]
            if self.deterministic and k >= self._next_split() + window * self.world_size:
                break
            heapq.heappop(self._pending)
            self._issued[k] = w
            load[w] += 1
            out.append((w, self.split(k)))
        return out

    def drain(self, worker: WorkerId) -> None:
        """Stops issuing to ``worker``; what it holds stays issued until it returns or is lost."""
        self._draining.add(worker)

    def lost(self, worker: WorkerId, reason: str = "was lost", starts_known: bool = False) -> list[int]:
        """Puts back the splits ``worker`` held; returns them.

        Only the split the worker was running counts as an attempt: the others merely waited in
        its queue, and blaming them would abort a healthy run after a few unlucky kills. With
        ``starts_known`` (the pool reports :meth:`began`), a worker that had not started any
        split yet (still loading the pipeline) blames none; else the oldest split it held ran.

        Raises:
            WorkerLostError: The running split has now been lost ``max_attempts`` times, which
                points at an input that kills or hangs its worker rather than bad luck.
        """
        self._draining.discard(worker)
        back = self.in_flight(worker)
        began = self._began.pop(worker, None)
        at = self._at.pop(worker, None)
        ran = began if starts_known else (back[0] if back else None)
        for k in back:
            del self._issued[k]
            if k == ran and self.skip_crashes and k in self._traced and at is not None:
                self._crashed.setdefault(k, []).append((at, reason))  # that sample, not the split, is to blame
            elif k == ran:
                self._attempts[k] = self._attempts.get(k, 0) + 1
                if self.skip_crashes:
                    self._traced.add(k)
            if self._attempts.get(k, 0) >= self.max_attempts:
                indices = list(self.split(k).indices)
                raise WorkerLostError(
                    f"split {k} of epoch {self.epoch} (samples {indices[:16]}{'...' if len(indices) > 16 else ''}) "
                    f"was lost with {self._attempts[k]} workers in a row, the last (worker {worker}) {reason}; "
                    f"one of these samples likely crashes, hangs or exhausts the worker. Inspect them, or raise "
                    f"max_attempts."
                )
            heapq.heappush(self._pending, k)
            self.reissued += 1
        return back

    def forget(self, worker: WorkerId) -> None:
        """A drained worker exited cleanly; anything it still held is re-issued (no attempt counted)."""
        self._draining.discard(worker)
        self._began.pop(worker, None)
        self._at.pop(worker, None)
        for k in self.in_flight(worker):
            del self._issued[k]
            heapq.heappush(self._pending, k)
            self.reissued += 1

    # -- receiving and delivering --------------------------------------------------------------

    def receive(self, worker: WorkerId, key: tuple[int, int], payload: Any) -> bool:
        """Records a finished split; False when it is a duplicate or from another epoch."""
        epoch, k = key
        if epoch != self.epoch or k in self._received or k in self._delivered or k % self.world_size != self.rank:
            self.duplicates += 1
            return False
        if self._began.get(worker) == k:
            del self._began[worker]
            self._at.pop(worker, None)
        if self._issued.get(k) == worker:
            del self._issued[k]
        elif k in self._issued:
            # Returned by a worker we had given up on while a re-issue is out: take it and let
            # the re-issued copy be dropped as a duplicate.
            del self._issued[k]
        else:
            self._pending = [p for p in self._pending if p != k]
            heapq.heapify(self._pending)
        self._received[k] = payload
        return True

    def pop_ready(self) -> tuple[int, Any] | None:
        """The next split to hand to the trainer, or None if it has not arrived yet."""
        if self.deterministic:
            if self._next_split() in self._received:
                k = self._next_split()
            else:
                return None
        elif self._received:
            k = next(iter(self._received))
        else:
            return None
        payload = self._received.pop(k)
        self._delivered.add(k)
        self._advance_next()
        return k, payload

    def issued_count(self) -> int:
        """Splits held by workers now."""
        return len(self._issued)

    def outstanding(self) -> int:
        """Splits issued or received but not yet delivered."""
        return len(self._issued) + len(self._received)

    # -- state -------------------------------------------------------------------------------

    def state_dict(self, unfinished: int | None = None) -> dict[str, Any]:
        """The epoch and its delivered splits, less ``unfinished`` (a split the trainer is still reading)."""
        delivered = self._delivered - {unfinished} if unfinished is not None else self._delivered
        return {
            "epoch": self.epoch,
            "total": self.total,
            "rank": self.rank,
            "world_size": self.world_size,
            "delivered": _to_ranges(delivered),
            # Debt of the balancer (balance.py): as it stood before the unfinished split, which is re-run.
            "owed": self.balance.owed_before if unfinished is not None else self.balance.owed,
            "pad_from": self.balance.last_split,
        }

    def delivered_from_state(self, state: dict[str, Any]) -> set[int]:
        if state["total"] != self.total:
            raise ValueError(
                f"state has {state['total']} splits per epoch but this pipeline has {self.total}; "
                f"load the state into a Loader over the same data, batch size and drop_last"
            )
        self.check_rank(state)
        return _from_ranges(state["delivered"])

    def check_rank(self, state: dict[str, Any]) -> None:
        """Refuses a ledger state saved by another rank (or another number of ranks)."""
        if (state.get("rank", 0), state.get("world_size", 1)) != (self.rank, self.world_size):
            raise ValueError(
                f"state belongs to rank {state.get('rank')} of {state.get('world_size')}, "
                f"this Loader is rank {self.rank} of {self.world_size}"
            )
