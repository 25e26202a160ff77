"""Per-sample randomness derived from (seed, epoch, sample index).

The executor calls :func:`seeded` around each sample; user code reads :func:`sample_rng`
(numpy) or :func:`sample_generator` (torch). The global ``random``, ``numpy.random`` and
``torch`` RNGs are seeded from the same key too, so third-party transforms that use them are
reproducible whichever worker runs the sample.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np
import torch

_KEY: ContextVar[tuple[int, int, int] | None] = ContextVar("stoker_sample_key", default=None)
_CACHE: ContextVar[dict[str, object] | None] = ContextVar("stoker_sample_rngs", default=None)

# Batch-level operators get keys in their own namespace so they never collide with sample keys.
BATCH_NAMESPACE = 1 << 40


_MASK = (1 << 64) - 1


def _splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def derive_seed(seed: int, epoch: int, index: int) -> int:
    """A 64-bit seed from the key; stable across processes, platforms and worker counts.

    SplitMix64 chained over the three parts: a few microseconds per sample, where
    ``numpy.random.SeedSequence`` costs ~25 us, which is noticeable at thousands of samples/s.
    """
    h = _splitmix64(seed & _MASK)
    h = _splitmix64(h ^ (epoch & _MASK))
    return _splitmix64(h ^ (index & _MASK))


@contextmanager
def preserved_rngs() -> Iterator[None]:
    """Restores the global ``random``, ``numpy`` and ``torch`` CPU RNG states on exit.

    The in-process executor runs in the trainer, whose own randomness (dropout, its next
    shuffle) must not be reset by the per-sample seeding.
    """
    py, np_state, th = random.getstate(), np.random.get_state(), torch.get_rng_state()
    try:
        yield
    finally:
        random.setstate(py)
        np.random.set_state(np_state)
        torch.set_rng_state(th)


def hash_index(index: object) -> int:
    """An int key for a sample index that is not an int (a numpy int, a tensor, a list of them).

    Stable across processes (``hash()`` of a str is salted per process, so it is not used).
    """
    import zlib

    try:
        return int(index.__index__())  # type: ignore[attr-defined]
    except (AttributeError, TypeError, ValueError, RuntimeError):
        pass
    if isinstance(index, (list, tuple)):
        h = 0
        for part in index:
            h = _splitmix64(h ^ (hash_index(part) & _MASK))
        return h
    return zlib.crc32(repr(index).encode())


@contextmanager
def seeded(seed: int, epoch: int, index: int, reseed: bool = True) -> Iterator[None]:
    """Makes (seed, epoch, index) the current sample's key and seeds the global RNGs from it.

    Args:
        seed: The Loader's seed.
        epoch: Epoch number.
        index: Sample index (or a batch key).
        reseed: Also seed ``random``, ``numpy.random`` and ``torch``; False leaves them to the
            worker (torch's semantics, used when a ``worker_init_fn`` seeds them itself).
    """
    s = derive_seed(seed, epoch, index)
    if reseed:
        random.seed(s)
        np.random.seed(s & 0xFFFFFFFF)
        # torch.manual_seed also seeds every accelerator (~100 us); workers only use the CPU generator.
        # 63 bits, as torch seeds its own workers: torch.initial_seed() then fits an int64 tensor.
        torch.default_generator.manual_seed(s & ((1 << 63) - 1))
    t1 = _KEY.set((seed, epoch, index))
    t2 = _CACHE.set({"seed": s})
    try:
        yield
    finally:
        _KEY.reset(t1)
        _CACHE.reset(t2)


def _current() -> dict[str, object]:
    cache = _CACHE.get()
    if cache is None:
        raise RuntimeError(
            "sample_rng()/sample_generator() are only available inside a pipeline function run by a stoker Loader"
        )
    return cache


def sample_rng() -> np.random.Generator:
    """The numpy Generator of the sample being processed (same object within one sample)."""
    cache = _current()
    if "np" not in cache:
        cache["np"] = np.random.default_rng(int(cache["seed"]))  # type: ignore[call-overload]
    return cache["np"]  # type: ignore[return-value]


def sample_generator() -> torch.Generator:
    """The torch Generator of the sample being processed (same object within one sample)."""
    cache = _current()
    if "torch" not in cache:
        g = torch.Generator()
        g.manual_seed(int(cache["seed"]))  # type: ignore[call-overload]
        cache["torch"] = g
    return cache["torch"]  # type: ignore[return-value]


def sample_rngs_drawn() -> tuple[str, ...]:
    """Which per-sample generators (``"np"``, ``"torch"``) the current sample has asked for so far.

    The optimiser reads this to find operators that use the per-sample RNG (see
    :mod:`stoker.optimize.probe`); outside a pipeline it is empty.
    """
    cache = _CACHE.get()
    return () if cache is None else tuple(sorted(k for k in cache if k != "seed"))


def sample_rngs() -> dict[str, object]:
    """The per-sample generators the current sample has asked for so far, by name (``"np"``, ``"torch"``).

    The optimiser compares their states before and after a step to see whether the step drew
    (:mod:`stoker.optimize.watch`); outside a pipeline it is empty.
    """
    cache = _CACHE.get()
    return {} if cache is None else {k: v for k, v in cache.items() if k != "seed"}


def sample_key() -> tuple[int, int, int] | None:
    """(seed, epoch, index) of the sample being processed, or None outside a pipeline."""
    return _KEY.get()
