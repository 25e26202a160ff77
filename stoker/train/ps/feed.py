"""What each worker trains on, round by round: a stoker Loader per worker.

Each worker iterates ``stoker.from_dataset(samples).shuffle(seed).batch(b, drop_last=True)`` as
rank ``r`` of ``num_workers`` (the Loader deals every epoch's batches out disjointly), and takes
the first ``len // (b x num_workers)`` of them, so under BSP every worker runs the same number of
rounds. The order depends on ``(seed, epoch)`` only, never on which process produced a batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass
class TensorFeed:
    """In-memory samples dealt to workers (picklable; tensors travel to workers in shared memory).

    Attributes:
        x: Inputs, first dimension samples.
        y: Targets, first dimension samples.
        batch: Samples per worker per round.
        seed: Seed of the shuffle.
        loader_workers: Data worker processes per trainer (0: in the trainer; in-memory samples
            need no more, a decoding pipeline does).
    """

    x: torch.Tensor
    y: torch.Tensor
    batch: int
    seed: int = 0
    loader_workers: int = 0
    _open: dict[tuple[int, int], tuple[Any, int]] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.x) != len(self.y):
            raise ValueError(f"x has {len(self.x)} samples but y has {len(self.y)}")
        if self.batch < 1:
            raise ValueError(f"{self.batch=} should be >= 1")

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_open": {}}  # Loaders hold processes; each process opens its own

    def rounds_per_epoch(self, num_workers: int) -> int:
        """Push/pull rounds in one epoch with ``num_workers`` workers."""
        rounds = len(self.x) // (self.batch * num_workers)
        if rounds == 0:
            raise ValueError(
                f"{len(self.x)} samples do not fill one round of {self.batch=} x {num_workers=}; "
                "lower the batch or the worker count"
            )
        return rounds

    def loader(self, rank: int, num_workers: int) -> Any:
        """The stoker Loader feeding worker ``rank`` (one per process, kept across epochs)."""
        import stoker

        pipeline = (
            stoker.from_dataset(torch.utils.data.TensorDataset(self.x, self.y))
            .shuffle(seed=self.seed)
            .batch(self.batch, drop_last=True)
        )
        return stoker.Loader(pipeline, workers=self.loader_workers, seed=self.seed, rank=rank, world_size=num_workers)

    def __call__(self, rank: int, num_workers: int, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        rounds = self.rounds_per_epoch(num_workers)
        loader, expected = self._open.get((rank, num_workers)) or (self.loader(rank, num_workers), 0)
        if epoch != expected:
            raise ValueError(f"feed asked for {epoch=} of rank {rank}; its Loader is at epoch {expected}")
        self._open[(rank, num_workers)] = (loader, epoch + 1)
        batches = list(loader)  # the whole epoch, so the Loader's next iteration is the next epoch
        if len(batches) < rounds:
            raise RuntimeError(f"rank {rank} got {len(batches)} batches in {epoch=}, fewer than {rounds=}")
        for b in batches[:rounds]:
            yield b[0], b[1]

    def close(self) -> None:
        """Closes the Loaders this process opened."""
        for loader, _ in self._open.values():
            loader.close()
        self._open.clear()
