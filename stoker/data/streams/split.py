"""The unit of work of a stream: a block of records of one virtual shard (pure bookkeeping).

Numbering: a rank owns ``m`` virtual shards (``owned[i]`` for ``i < m``); block ``b`` of owned
shard ``i`` is split ``k = b * m + i``. Delivering splits in ascending ``k`` takes one block of
each shard in turn and skips shards that have ended, which is the order in which
``torch.utils.data.DataLoader`` with ``num_workers=K`` hands out its workers' batches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stoker.data.outcome import SplitResult
from stoker.data.splits import Split


def split_of(shard_pos: int, block: int, shards: int) -> int:
    """Split number of block ``block`` of the ``shard_pos``-th owned shard (of ``shards``)."""
    return block * shards + shard_pos


def place_of(k: int, shards: int) -> tuple[int, int]:
    """(owned shard position, block) of split ``k``: the inverse of :func:`split_of`."""
    return k % shards, k // shards


def sample_id(shard: int, record: int, num_shards: int) -> int:
    """A stream-wide sample number for the RNG key: record ``record`` of virtual shard ``shard``."""
    return record * num_shards + shard


@dataclass(frozen=True)
class StreamSplit(Split):
    """Records ``[start, stop)`` of virtual shard ``shard``; ``indices`` are their sample ids.

    Attributes:
        shard: Virtual shard (logical worker id, ``0 <= shard < num_shards``).
        num_shards: Virtual shards of the stream (``K``).
        start: First record of the block (records counted from the shard's start, per epoch).
        stop: One past the last record.
        drop_last: Drop a block that the shard's end cuts short.
        resume: The data set's ``state_dict()`` at ``start`` when the ledger has it, so a worker
            that does not hold the shard open can load it instead of replaying ``start`` records.
    """

    shard: int = 0
    num_shards: int = 1
    start: int = 0
    stop: int = 0
    drop_last: bool = False
    resume: Any = None


def make_stream_split(
    epoch: int, k: int, shard: int, num_shards: int, block: int, size: int, drop_last: bool, resume: Any = None
) -> StreamSplit:
    """Split ``k`` of an epoch: block ``block`` (``size`` records) of virtual shard ``shard``."""
    start = block * size
    ids = tuple(sample_id(shard, r, num_shards) for r in range(start, start + size))
    return StreamSplit(epoch, k, ids, shard, num_shards, start, start + size, drop_last, resume)


@dataclass
class StreamResult(SplitResult):
    """A :class:`SplitResult` of a stream split, with what the ledger learns about the shard.

    Attributes:
        shard_end: The shard ended inside (or right before) this block: no later block exists.
        records: Records read from the shard for this block (before filters and skips).
        state: The data set's ``state_dict()`` after the block (None when it has none).
    """

    shard_end: bool = False
    records: int = 0
    state: Any = None
