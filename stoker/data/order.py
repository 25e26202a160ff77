"""The order in which an epoch visits sample indices, computed per position instead of stored.

An epoch of a data set whose length is virtual (``1e8``) must not cost an array of every index
before its first batch: :class:`Natural` is ``range(n)``, :class:`Feistel` a keyed bijection of
``range(n)`` evaluated only at the positions a split asks for (O(1) memory, the same answer in
every process). Data sets below :data:`LAZY_SHUFFLE_MIN` samples keep numpy's permutation
(:class:`Stored`), so their shuffled streams, and the states saved from them, stay as they were.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from stoker.data.rng import derive_seed

LAZY_SHUFFLE_MIN = 1 << 24  # samples; a stored permutation of this many indices is 128 MiB
_ROUNDS = 6
_M1, _M2, _GOLD = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB), np.uint64(0x9E3779B97F4A7C15)


class Order:
    """Sample index at each position of an epoch (a permutation of ``range(length)``)."""

    length: int

    def take(self, positions: np.ndarray) -> np.ndarray:
        """The sample indices at ``positions`` (int64 array, each in ``[0, length)``)."""
        raise NotImplementedError

    def __len__(self) -> int:
        return self.length

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self.take(np.arange(self.length, dtype=np.int64))
        return out if dtype is None else out.astype(dtype)


class Natural(Order):
    """Position ``i`` visits sample ``i``."""

    def __init__(self, length: int) -> None:
        self.length = length

    def take(self, positions: np.ndarray) -> np.ndarray:
        return np.asarray(positions, dtype=np.int64)


class Stored(Order):
    """A permutation held as an array (numpy's ``permutation``, for data sets of moderate length)."""

    def __init__(self, perm: np.ndarray) -> None:
        self.perm = perm
        self.length = len(perm)

    def take(self, positions: np.ndarray) -> np.ndarray:
        return self.perm[positions]


def _mix(x: np.ndarray, key: np.uint64) -> np.ndarray:
    """A 64-bit hash of ``x`` under ``key`` (splitmix64's finaliser); wraps modulo 2^64 by design."""
    h = (x + key) * _GOLD
    h ^= h >> np.uint64(30)
    h *= _M1
    h ^= h >> np.uint64(27)
    h *= _M2
    return h ^ (h >> np.uint64(31))


class Feistel(Order):
    """A keyed pseudo-random permutation of ``range(length)``, evaluated per position.

    A balanced Feistel network over the smallest even number of bits that holds ``length`` is a
    bijection of ``[0, 4^h)``; positions that land past ``length`` are encrypted again (cycle
    walking) until they fall inside, which keeps it a bijection of ``range(length)`` and takes
    fewer than four rounds of the network on average.

    Args:
        length: Samples in the epoch.
        seed: Key of the permutation (derive it from the shuffle seed and the epoch).
    """

    def __init__(self, length: int, seed: int) -> None:
        self.length = length
        self.half = max(1, ((max(length, 2) - 1).bit_length() + 1) // 2)
        self.mask = np.uint64((1 << self.half) - 1)
        rng = np.random.default_rng(seed)
        self.keys = [np.uint64(k) for k in rng.integers(0, 2**63, size=_ROUNDS, dtype=np.int64)]

    def _encrypt(self, x: np.ndarray) -> np.ndarray:
        shift = np.uint64(self.half)
        left, right = x >> shift, x & self.mask
        for key in self.keys:
            left, right = right, left ^ (_mix(right, key) & self.mask)
        return (left << shift) | right

    def take(self, positions: np.ndarray) -> np.ndarray:
        out = self._encrypt(np.asarray(positions, dtype=np.uint64))
        outside = out >= np.uint64(self.length)
        while outside.any():
            out[outside] = self._encrypt(out[outside])
            outside = out >= np.uint64(self.length)
        return out.astype(np.int64)


def epoch_order(length: int, epoch: int, shuffle_seed: int | None) -> Order:
    """The order in which an epoch visits sample indices.

    Args:
        length: Number of samples in the source.
        epoch: Epoch number.
        shuffle_seed: None for the natural order, else the shuffle seed.

    Returns:
        An :class:`Order`: natural, numpy's permutation below :data:`LAZY_SHUFFLE_MIN` samples,
        else a :class:`Feistel` permutation.
    """
    if shuffle_seed is None:
        return Natural(length)
    seed = derive_seed(shuffle_seed, epoch, -1) & ((1 << 63) - 1)
    if length < LAZY_SHUFFLE_MIN:
        return Stored(np.random.default_rng(seed).permutation(length).astype(np.int64))
    return Feistel(length, seed)
