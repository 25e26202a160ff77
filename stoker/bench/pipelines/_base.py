"""What every pipeline of the suite provides, and the DataLoader form of a stoker pipeline."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

from stoker.data.pipeline import Pipeline
from stoker.data.rng import seeded


@dataclass(frozen=True)
class Case:
    """One pipeline of the suite.

    Attributes:
        name: Short name (the benchmark's JSON key).
        pipeline: The stoker pipeline: source, shuffle, per-sample ops, batch (and batch ops).
        about: One line on what it does.
    """

    name: str
    pipeline: Pipeline
    about: str

    def subset(self, n: int) -> Case:
        """The same pipeline over its first ``n`` source items (for quick equality checks)."""
        from stoker.data.pipeline import Source

        src = self.pipeline.source
        data = src.data[:n] if src.kind != "dataset" else _Head(src.data, n)
        return Case(self.name, Pipeline(Source(src.kind, data, src.name), self.pipeline.ops), self.about)


class _Head:
    """The first ``n`` items of a map-style dataset."""

    def __init__(self, data: Any, n: int) -> None:
        self.data, self.n = data, min(n, len(data))

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> Any:
        if not 0 <= i < self.n:
            raise IndexError(i)
        return self.data[i]


_DROPPED = None  # what OpsDataset returns for a sample a filter drops


class EpochSampler(torch.utils.data.Sampler):  # type: ignore[type-arg]
    """Yields ``(epoch, index)``, the epoch advancing with every new pass, as ``set_epoch`` does.

    The sampler runs in the trainer, so even persistent workers learn each sample's epoch and
    draw new augmentations every epoch, as a user's DataLoader does (one seeded per epoch 0 would
    replay the same augmentation every epoch and do less work than a real one).

    Args:
        n: Samples per epoch.
        shuffle: A new order every epoch (from ``seed``).
        seed: Seed of the orders.
    """

    def __init__(self, n: int, shuffle: bool, seed: int = 0) -> None:
        self.n, self.shuffle = n, shuffle
        self.epoch = -1
        self.generator = torch.Generator().manual_seed(seed)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        self.epoch += 1
        order = torch.randperm(self.n, generator=self.generator).tolist() if self.shuffle else range(self.n)
        return iter([(self.epoch, i) for i in order])

    def __len__(self) -> int:
        return self.n


class OpsDataset(torch.utils.data.Dataset):
    """A stoker pipeline's source and per-sample ops as a map-style Dataset for ``DataLoader``.

    Runs exactly the same functions per sample, under per-sample RNG keys (seed, epoch, index)
    as stoker does, the epoch coming from :class:`EpochSampler`, so DataLoader does the same
    work; a filtered sample comes back as ``None`` and :class:`DropCollate` leaves it out, as
    stoker's executor does.
    """

    def __init__(self, pipe: Pipeline, seed: int = 0) -> None:
        self.source = pipe.source
        self.ops = pipe.sample_ops()
        self.seed = seed

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, key: int | tuple[int, int]) -> Any:
        epoch, index = key if isinstance(key, tuple) else (0, key)
        with seeded(self.seed, epoch, index):
            value = self.source.get(index)
            for op in self.ops:
                out = op.fn(value)  # type: ignore[misc]
                if op.kind == "filter":
                    if not out:
                        return _DROPPED
                else:
                    value = out
            return value


class DropCollate:
    """Leaves out filtered samples, collates, then runs the pipeline's batch ops."""

    def __init__(self, pipe: Pipeline) -> None:
        batch = pipe.batch_op
        if batch is None:
            raise ValueError(f"the pipeline {pipe!r} has no batch(); the suite compares batched pipelines")
        self.collate: Callable[[list[Any]], Any] = batch.fn  # type: ignore[assignment]
        self.after = pipe.batch_ops()

    def __call__(self, samples: list[Any]) -> Any:
        batch = self.collate([s for s in samples if s is not _DROPPED])
        for op in self.after:
            batch = op.fn(batch)  # type: ignore[misc]
        return batch


def dataloader(pipe: Pipeline, workers: int, seed: int = 0) -> torch.utils.data.DataLoader:
    """The strongest plain DataLoader for the same work: persistent workers, prefetch 2, shuffled and
    re-randomised every epoch (:class:`EpochSampler`)."""
    batch = pipe.batch_op
    size = int(batch.args["size"]) if batch is not None else 1
    drop_last = bool(batch.args["drop_last"]) if batch is not None else False
    return torch.utils.data.DataLoader(
        OpsDataset(pipe, seed),
        batch_size=size,
        sampler=EpochSampler(len(pipe), pipe.shuffle_op is not None, seed),
        num_workers=workers,
        collate_fn=DropCollate(pipe),
        drop_last=drop_last,
        persistent_workers=workers > 0,
        prefetch_factor=2 if workers > 0 else None,
    )
