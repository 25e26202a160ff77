"""Cutting an epoch's index space into splits (pure functions).

A split is the unit the dispatcher hands out, acknowledges and re-issues: one batch when the
pipeline batches, else ``split_size`` samples. Split ``k`` of epoch ``e`` always holds the same
sample indices for a given (seed, epoch, length), whatever the number of workers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from stoker.data.order import Order, epoch_order

__all__ = ["Split", "epoch_order", "make_split", "num_splits", "padded_splits"]


@dataclass(frozen=True)
class Split:
    """Work for one worker: the samples at positions ``[start, stop)`` of an epoch's order.

    Attributes:
        epoch: Epoch number (0-based).
        index: Split number within the epoch (its place in the delivered stream).
        indices: Sample indices into the source, in stream order.
        trace: The worker reports each sample it starts (the split already killed a worker,
            and ``on_error="skip"`` wants to know which sample did).
        crashed: (position, reason) of samples that killed a worker: they are skipped, not run
            (a position of ``len(indices)`` is the batch stage: every kept sample is skipped).
    """

    epoch: int
    index: int
    indices: tuple[int, ...]
    # Keyword-only, so subclasses (stream splits) keep their positional fields.
    trace: bool = field(default=False, kw_only=True)
    crashed: tuple[tuple[int, str], ...] = field(default=(), kw_only=True)

    @property
    def key(self) -> tuple[int, int]:
        return (self.epoch, self.index)


def num_splits(length: int, split_size: int, drop_last: bool) -> int:
    """How many splits an epoch of ``length`` samples has."""
    if split_size < 1:
        raise ValueError(f"{split_size=} should be >= 1")
    return length // split_size if drop_last else -(-length // split_size)


def padded_splits(total: int, world_size: int, drop_last: bool) -> int:
    """Splits an epoch is dealt as, so that every rank gets the same number (as ``DistributedSampler``).

    DistributedDataParallel hangs when one rank runs out of batches before another, so the
    remainder of ``total`` over ``world_size`` is padded with repeated samples (default), or
    dropped when ``drop_last``.
    """
    if world_size <= 1 or total % world_size == 0:
        return total
    return total // world_size * world_size if drop_last else -(-total // world_size) * world_size


def make_split(order: Order, epoch: int, k: int, split_size: int, total: int | None = None) -> Split:
    """Split ``k`` of an epoch given its order (only this split's positions are computed).

    Args:
        order: The epoch's order of sample indices.
        epoch: Epoch number.
        k: Split number.
        split_size: Samples per split.
        total: Real splits of the epoch; a ``k`` at or past it is a padding split that repeats
            samples from the start of the order (wrapping around), so ranks stay equal.
    """
    n = len(order)
    if total is not None and k >= total:
        start = (k - total) * split_size
        positions = (start + np.arange(split_size, dtype=np.int64)) % n
    else:
        start = k * split_size
        positions = np.arange(start, min(start + split_size, n), dtype=np.int64)
    return Split(epoch, k, tuple(order.take(positions).tolist()))
