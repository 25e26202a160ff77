"""Runs stream splits in a worker: keeps each virtual shard it owns open between blocks.

The ledger gives a shard's blocks to one worker while it lives, so the reader left at record
``stop`` by one block is where the next block starts; only a shard that arrives from elsewhere
(a dead or drained worker, a rebalance) is opened anew, at the block's start.
"""

from __future__ import annotations

import contextlib
import time
import traceback
from collections import OrderedDict, defaultdict
from typing import TYPE_CHECKING, Any

from stoker.data.outcome import DROP, OpFailed, SkipRecord, SplitFailure, failure
from stoker.data.rng import BATCH_NAMESPACE, seeded
from stoker.data.streams.source import ShardReader, StreamSource
from stoker.data.streams.split import StreamResult, StreamSplit, sample_id

if TYPE_CHECKING:
    from stoker.data.executor import Executor

MAX_OPEN = 64  # open readers a worker keeps; the least recently used beyond that is closed


class StreamRunner:
    """The stream half of an :class:`~stoker.data.executor.Executor` (one per worker).

    Args:
        executor: The worker's executor: its operators, seed, error mode and collate.
    """

    def __init__(self, executor: Executor) -> None:
        self.executor = executor
        source = executor.pipeline.source.data
        if not isinstance(source, StreamSource):
            raise TypeError(f"a stream split needs a stream source, got {type(source).__name__}")
        self.source = source
        self._open: OrderedDict[int, tuple[int, ShardReader]] = OrderedDict()  # shard -> (epoch, reader)

    def _reader(self, split: StreamSplit) -> ShardReader:
        held = self._open.pop(split.shard, None)
        if held is not None:
            epoch, reader = held
            if epoch == split.epoch and reader.position == split.start:
                self._open[split.shard] = held
                return reader
            reader.close()
        reader = self.source.open(split.shard, split.epoch, self.executor.seed, split.start, split.resume)
        self._open[split.shard] = (split.epoch, reader)
        while len(self._open) > MAX_OPEN:
            _, (_, old) = self._open.popitem(last=False)
            old.close()
        return reader

    def _read(self, split: StreamSplit, reader: ShardReader, record: int) -> Any:
        """Record ``record`` of the shard, read under its sample's RNG key (as a replay reads it)."""
        with seeded(self.executor.seed, split.epoch, sample_id(split.shard, record, split.num_shards)):
            return reader.next()

    def _replay(self, split: StreamSplit, reader: ShardReader) -> bool:
        """Reads and drops the records before ``split.start``; False when the shard ends first."""
        while reader.position < split.start:
            try:
                self._read(split, reader, reader.position)
            except StopIteration:
                return False
        return True

    def run(self, split: StreamSplit) -> StreamResult | SplitFailure:
        """Reads the split's records, applies the pipeline, collates; never raises for user errors."""
        t_start = time.perf_counter()
        ex = self.executor
        stage: dict[str, float] = defaultdict(float)
        result = StreamResult(split.key, [])
        t0 = time.perf_counter()
        try:
            reader = self._reader(split)
            alive = self._replay(split, reader)
        except ex.catch as exc:  # iter(), load_state_dict() or a replayed record of the data set
            self._drop(split.shard)
            return self._failure(split, split.start, None, OpFailed(f"read:{self.source.label}", exc))
        finally:
            stage["read"] += time.perf_counter() - t0
        kept: list[Any] = []
        kept_ids: list[int] = []
        record = split.start
        unreadable = 0
        while alive and record < split.stop:
            sid = sample_id(split.shard, record, split.num_shards)
            with seeded(ex.seed, split.epoch, sid):
                t0 = time.perf_counter()
                try:
                    value = reader.next()
                except StopIteration:
                    alive = False
                    break
                except ex.catch as exc:
                    # A data set's iterator that raised is finished (a generator cannot resume):
                    # the shard ends here, whatever on_error says.
                    self._open.pop(split.shard, None)
                    err = OpFailed(f"read:{self.source.name}", exc)
                    if ex.on_error == "raise":
                        return self._failure(split, record, reader.where(), err)
                    self._skip(split, result, sid, reader.where(), err)
                    unreadable = 1
                    alive = False
                    break
                finally:
                    stage["read"] += time.perf_counter() - t0
                record += 1
                try:
                    value = ex.apply(ex.sample_ops, value, stage, result)
                except OpFailed as err:
                    if ex.on_error == "raise":
                        return self._failure(split, record - 1, reader.where(), err)
                    self._skip(split, result, sid, reader.where(), err)
                    continue
            if value is not DROP:
                kept.append(value)
                kept_ids.append(sid)
        result.records = record - split.start
        result.samples = result.records + unreadable
        result.shard_end = not alive
        if not alive:
            self._open.pop(split.shard, None)
        else:
            try:
                result.state = reader.state()
            except ex.catch as exc:
                self._drop(split.shard)
                return self._state_failure(split, exc)
        cut_short = result.records < split.stop - split.start
        failure = self._collate(split, result, kept, kept_ids, stage, drop=split.drop_last and cut_short)
        if failure is not None:
            return failure
        result.stage_s = dict(stage)
        result.busy_s = time.perf_counter() - t_start
        return result

    def _collate(
        self,
        split: StreamSplit,
        result: StreamResult,
        kept: list[Any],
        kept_ids: list[int],
        stage: dict[str, float],
        drop: bool,
    ) -> SplitFailure | None:
        ex = self.executor
        if ex.batch_op is None:
            result.items = kept
            return None
        if not kept or drop:
            return None
        try:
            with seeded(ex.seed, split.epoch, BATCH_NAMESPACE + split.index):
                batch = ex.apply([ex.batch_op, *ex.batch_ops], kept, stage, result)
        except OpFailed as err:
            if ex.on_error == "raise":
                return self._failure(split, None, None, err, tuple(kept_ids))
            for sid in kept_ids:
                self._skip(split, result, sid, None, err)
            return None
        result.items = [] if batch is DROP else [batch]
        return None

    def _drop(self, shard: int) -> None:
        """Forgets a shard's reader after its data set raised: a later block opens it anew."""
        held = self._open.pop(shard, None)
        if held is not None:
            with contextlib.suppress(Exception):
                held[1].close()

    def _state_failure(self, split: StreamSplit, exc: BaseException) -> SplitFailure:
        """The data set's ``state_dict()`` raised: an error of the data set, not of a sample or a worker."""
        op = f"state_dict:{self.source.label}"
        msg = (
            f"{type(exc).__name__} in {self.source.label}.state_dict(), which stoker calls in the worker after "
            f"records {split.start}..{split.stop - 1} of virtual shard {split.shard} (epoch {split.epoch}) so that "
            f"another worker can resume the shard there: {exc}. Fix state_dict(), or give the data set no "
            f"state_dict()/load_state_dict() pair and stoker replays a moved shard from its start instead."
        )
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        ids = tuple(sample_id(split.shard, r, split.num_shards) for r in range(split.start, split.stop))
        return failure(split.key, msg, ids, None, op, exc, tb)

    def _failure(
        self, split: StreamSplit, record: int | None, where: str | None, err: OpFailed, ids: tuple[int, ...] = ()
    ) -> SplitFailure:
        if record is not None:
            ids = (sample_id(split.shard, record, split.num_shards),)
            place = f"record {record} of virtual shard {split.shard}"
        else:
            place = f"the batch of records {split.start}..{split.stop - 1} of virtual shard {split.shard}"
        if where:
            place += f" ({where})"
        msg = (
            f"{type(err.exc).__name__} in {err.op!r} on {place}, epoch {split.epoch}: {err.exc}. "
            f"Fix the input or the function, or pass on_error='skip' to drop such samples."
        )
        return failure(split.key, msg, ids, where, err.op, err.exc, err.tb)

    def _skip(self, split: StreamSplit, result: StreamResult, sid: int, where: str | None, err: OpFailed) -> None:
        result.skipped.append(SkipRecord(split.epoch, sid, where, err.op, f"{type(err.exc).__name__}: {err.exc}"))

    def close(self) -> None:
        while self._open:
            _, (_, reader) = self._open.popitem()
            reader.close()
