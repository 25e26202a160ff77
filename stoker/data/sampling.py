"""A torch sampler's epoch, drawn in the trainer, as the dispatcher's splits.

:class:`stoker.DataLoader` draws every epoch's indices exactly as torch's DataLoader does (the
sampler or batch sampler is iterated in the trainer at ``iter()``, so ``generator=``,
``torch.manual_seed`` and ``set_epoch`` have torch's effect) and hands them to the ledger as
explicit splits: one batch per split, or ``split_size`` samples when batching is off. Workers
then only read and transform; exactly-once, elastic scaling, kills and resume work as for any
stoker pipeline. The drawn epoch is part of the state, so a resumed run in a new process
continues the same indices even when the sampler's randomness came from the global RNG.
"""

from __future__ import annotations

import itertools
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch

# Sampler attributes that define which indices it yields (torch's samplers and common user ones).
_DEFINING = ("num_replicas", "rank", "shuffle", "seed", "drop_last", "replacement", "num_samples", "batch_size")


def _qualname(obj: Any) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def _defining(obj: Any) -> tuple[tuple[str, str], ...]:
    return tuple((name, repr(getattr(obj, name))) for name in _DEFINING if hasattr(obj, name))


@dataclass(frozen=True)
class SamplerIdentity:
    """What makes two DataLoaders draw the same epochs; a state is refused when it differs.

    Attributes:
        sampler: Qualified class name of ``loader.sampler``.
        sampler_args: Its defining attributes (``num_replicas``, ``rank``, ``seed`` ...) as reprs.
        batch_sampler: Qualified class name of ``loader.batch_sampler`` ("" without batching).
        batch_args: The batch sampler's defining attributes.
        batch_size: ``loader.batch_size`` (None when batching is off or a batch sampler is given).
        drop_last: ``loader.drop_last``.
    """

    sampler: str
    sampler_args: tuple[tuple[str, str], ...]
    batch_sampler: str
    batch_args: tuple[tuple[str, str], ...]
    batch_size: int | None
    drop_last: bool

    @classmethod
    def of(cls, sampler: Any, batch_sampler: Any, batch_size: int | None, drop_last: bool) -> SamplerIdentity:
        return cls(
            _qualname(sampler),
            _defining(sampler),
            "" if batch_sampler is None else _qualname(batch_sampler),
            () if batch_sampler is None else _defining(batch_sampler),
            batch_size,
            bool(drop_last),
        )

    def as_state(self) -> dict[str, Any]:
        state = asdict(self)
        state["sampler_args"] = [list(p) for p in self.sampler_args]
        state["batch_args"] = [list(p) for p in self.batch_args]
        return state

    def check(self, saved: dict[str, Any]) -> None:
        """Raises ValueError naming the first field in which ``saved`` differs from this identity."""
        mine = self.as_state()
        for key, value in mine.items():
            if saved.get(key) != value:
                raise ValueError(
                    f"the state was saved with sampler field {key}={saved.get(key)!r} but this DataLoader has "
                    f"{key}={value!r}; load it into a DataLoader with the same sampler, batch_size and drop_last"
                )


class IntSplits(Sequence[tuple[int, ...]]):
    """An epoch's splits of int indices, stored flat: 8 bytes per index instead of a Python int
    and a tuple slot (an epoch of 10 M indices is 80 MB, not ~400 MB)."""

    def __init__(self, flat: array[int], bounds: array[int]) -> None:
        self.flat = flat
        self.bounds = bounds

    def __len__(self) -> int:
        return len(self.bounds) - 1

    def __getitem__(self, k: int) -> tuple[int, ...]:  # type: ignore[override]
        return tuple(self.flat[self.bounds[k] : self.bounds[k + 1]])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and len(self) == len(other) and all(a == b for a, b in zip(self, other))


class RangeSplits(Sequence[tuple[int, ...]]):
    """The splits of torch's ``SequentialSampler``, computed per split: ``range(n)`` cut into
    ``size``-long pieces. An epoch of a data set with a virtual length of 1e8 then costs nothing
    before its first batch, as with torch's DataLoader, instead of 800 MB of drawn indices."""

    def __init__(self, n: int, size: int, drop_last: bool) -> None:
        self.n, self.size, self.drop_last = n, size, drop_last

    def __len__(self) -> int:
        return self.n // self.size if self.drop_last else -(-self.n // self.size)

    def __getitem__(self, k: int) -> tuple[int, ...]:  # type: ignore[override]
        if not 0 <= k < len(self):
            raise IndexError(f"split {k} of {len(self)}")
        return tuple(range(k * self.size, min((k + 1) * self.size, self.n)))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RangeSplits):
            return (self.n, self.size, len(self)) == (other.n, other.size, len(other))
        return isinstance(other, Sequence) and len(self) == len(other) and all(a == b for a, b in zip(self, other))

    def samples_in(self, ks: range) -> int:
        """Samples in the splits ``ks`` (only the last split can be short)."""
        last = len(self) - 1
        return len(ks) * self.size - (max(0, (last + 1) * self.size - self.n) if last in ks else 0)


def _sequential(index_sampler: Any, batched: bool, split_size: int) -> RangeSplits | None:
    """The epoch as :class:`RangeSplits` when torch's own sequential sampler draws it, else None."""
    from torch.utils.data import BatchSampler, SequentialSampler

    if batched:
        if type(index_sampler) is not BatchSampler or type(index_sampler.sampler) is not SequentialSampler:
            return None
        n = len(index_sampler.sampler.data_source)  # type: ignore[arg-type]
        return RangeSplits(n, index_sampler.batch_size, index_sampler.drop_last)
    if type(index_sampler) is not SequentialSampler:
        return None
    return RangeSplits(len(index_sampler.data_source), split_size, False)  # type: ignore[arg-type]


def _collect(groups: Iterable[Iterable[Any]]) -> Sequence[tuple[Any, ...]]:
    """The groups as :class:`IntSplits` while every index is an int, else as a list of tuples."""
    flat, bounds = array("q"), array("q", [0])
    groups = iter(groups)
    for group in groups:
        chunk = group if type(group) is list else list(group)
        if set(map(type, chunk)) != {int} and chunk:  # lists, tensors, numpy ints: keep them as given
            done = IntSplits(flat, bounds)
            return [*(done[k] for k in range(len(done))), tuple(chunk), *(tuple(g) for g in groups)]
        flat.extend(chunk)
        bounds.append(len(flat))
    return IntSplits(flat, bounds)


def _pack(splits: Sequence[tuple[Any, ...]]) -> dict[str, Any]:
    """Splits as two int64 tensors when every index is an int (compact, torch.save-safe)."""
    if isinstance(splits, RangeSplits):
        return {"range": [splits.n, splits.size, splits.drop_last]}
    if isinstance(splits, IntSplits):
        return {
            "flat": torch.frombuffer(bytearray(splits.flat), dtype=torch.int64),
            "bounds": torch.frombuffer(bytearray(splits.bounds), dtype=torch.int64),
        }
    return {"list": [list(s) for s in splits]}


def _unpack(packed: dict[str, Any]) -> Sequence[tuple[Any, ...]]:
    if "range" in packed:
        n, size, drop_last = packed["range"]
        return RangeSplits(int(n), int(size), bool(drop_last))
    if "list" in packed:
        return [tuple(s) for s in packed["list"]]
    return IntSplits(array("q", packed["flat"].tolist()), array("q", packed["bounds"].tolist()))


def _chunks(indices: Iterable[Any], size: int) -> Iterable[Iterable[Any]]:
    it = iter(indices)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


class SamplerSplits:
    """Turns a DataLoader's index sampler into each epoch's splits.

    Args:
        index_sampler: ``loader.batch_sampler`` when batching, else ``loader.sampler``.
        batched: Whether ``index_sampler`` yields batches of indices (one split per batch).
        split_size: Samples per split when not batched.
        identity: The sampler's identity, saved in the state and checked on load.
    """

    KEY = "sampler"

    def __init__(self, index_sampler: Iterable[Any], batched: bool, split_size: int, identity: SamplerIdentity) -> None:
        if split_size < 1:
            raise ValueError(f"{split_size=} should be >= 1")
        self.index_sampler = index_sampler
        self.batched = batched
        self.split_size = split_size
        self.identity = identity
        self._splits: Sequence[tuple[Any, ...]] = []

    @property
    def replicas(self) -> int:
        """Ranks the sampler deals to (``num_replicas`` of a ``DistributedSampler``; 1 for others)."""
        for name, value in (*self.identity.sampler_args, *self.identity.batch_args):
            if name == "num_replicas" and value.isdigit():
                return int(value)
        return 1

    def draw(self) -> Sequence[tuple[Any, ...]]:
        """Iterates the sampler once (one epoch), as torch's DataLoader does at ``iter()``.

        torch's sequential sampler draws nothing random, so its epoch is computed per split instead.
        """
        lazy = _sequential(self.index_sampler, self.batched, self.split_size)
        if lazy is not None:
            self._splits = lazy
            return lazy
        groups = self.index_sampler if self.batched else _chunks(self.index_sampler, self.split_size)
        self._splits = _collect(groups)
        return self._splits

    def restore(self, state: dict[str, Any]) -> Sequence[tuple[Any, ...]]:
        """The splits of the epoch saved in ``state`` (after checking the sampler's identity)."""
        if not isinstance(state, dict) or "identity" not in state or "splits" not in state:
            raise ValueError(f"not a stoker sampler state: {type(state).__name__} without 'identity' and 'splits'")
        self.identity.check(state["identity"])
        self._splits = _unpack(state["splits"])
        return self._splits

    def state_dict(self) -> dict[str, Any]:
        """The sampler's identity and the current epoch's drawn splits."""
        return {"identity": self.identity.as_state(), "splits": _pack(self._splits)}
