"""Cutting an epoch's index space into splits (pure functions).

A split is the unit the dispatcher hands out, acknowledges and re-issues: one batch when the
pipeline batches, else ``split_size`` samples. Split ``k`` of epoch ``e`` always holds the same
sample indices for a given (seed, epoch, length), whatever the number of workers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stoker.data.rng import derive_seed


@dataclass(frozen=True)
class Split:
    """Work for one worker: the samples at positions ``[start, stop)`` of an epoch's order.

    Attributes:
        epoch: Epoch number (0-based).
        index: Split number within the epoch (its place in the delivered stream).
        indices: Sample indices into the source, in stream order.
    """

    epoch: int
    index: int
    indices: tuple[int, ...]

    @property
    def key(self) -> tuple[int, int]:
        return (self.epoch, self.index)


def epoch_order(length: int, epoch: int, shuffle_seed: int | None) -> np.ndarray:
    """The order in which an epoch visits sample indices.

    Args:
        length: Number of samples in the source.
        epoch: Epoch number.
        shuffle_seed: None for the natural order, else the shuffle seed.

    Returns:
        An int64 array, a permutation of ``range(length)``.
    """
    if shuffle_seed is None:
        return np.arange(length, dtype=np.int64)
    rng = np.random.default_rng(derive_seed(shuffle_seed, epoch, -1) & ((1 << 63) - 1))
    return rng.permutation(length).astype(np.int64)


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


def make_split(order: np.ndarray, epoch: int, k: int, split_size: int, total: int | None = None) -> Split:
    """Split ``k`` of an epoch given its order.

    Args:
        order: The epoch's order of sample indices.
        epoch: Epoch number.
        k: Split number.
        split_size: Samples per split.
        total: Real splits of the epoch; a ``k`` at or past it is a padding split that repeats
            samples from the start of the order (wrapping around), so ranks stay equal.
    """
    if total is not None and k >= total:
        start = (k - total) * split_size
        n = len(order)
        return Split(epoch, k, tuple(int(order[(start + j) % n]) for j in range(split_size)))
    start = k * split_size
    return Split(epoch, k, tuple(int(i) for i in order[start : start + split_size]))
