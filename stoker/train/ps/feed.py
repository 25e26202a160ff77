"""What each worker trains on, round by round.

Every round takes the next ``batch x num_workers`` samples of the epoch's shuffled order and
gives worker ``r`` the ``r``-th slice of ``batch``; the remainder of an epoch that does not fill
a round is dropped (as ``DistributedSampler(drop_last=True)``), so under BSP every worker runs
the same number of rounds. The order depends on ``(seed, epoch)`` only, never on a worker.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch


def epoch_order(num_samples: int, seed: int, epoch: int) -> list[int]:
    """The epoch's sample order. The one place to switch to a stoker Loader
    (``stoker.from_items(range(n)).shuffle(seed=...)``) once it is on main."""
    gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(num_samples, generator=gen).tolist()


@dataclass
class TensorFeed:
    """In-memory samples dealt to workers (picklable; tensors travel to workers in shared memory).

    Attributes:
        x: Inputs, first dimension samples.
        y: Targets, first dimension samples.
        batch: Samples per worker per round.
        seed: Seed of the shuffle.
    """

    x: torch.Tensor
    y: torch.Tensor
    batch: int
    seed: int = 0

    def __post_init__(self) -> None:
        if len(self.x) != len(self.y):
            raise ValueError(f"x has {len(self.x)} samples but y has {len(self.y)}")
        if self.batch < 1:
            raise ValueError(f"{self.batch=} should be >= 1")

    def rounds_per_epoch(self, num_workers: int) -> int:
        """Push/pull rounds in one epoch with ``num_workers`` workers."""
        rounds = len(self.x) // (self.batch * num_workers)
        if rounds == 0:
            raise ValueError(
                f"{len(self.x)} samples do not fill one round of {self.batch=} x {num_workers=}; "
                "lower the batch or the worker count"
            )
        return rounds

    def __call__(
        self, rank: int, num_workers: int, epoch: int
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = epoch_order(len(self.x), self.seed, epoch)
        global_batch = self.batch * num_workers
        for r in range(self.rounds_per_epoch(num_workers)):
            start = r * global_batch + rank * self.batch
            idx = torch.tensor(order[start : start + self.batch])
            yield self.x[idx], self.y[idx]
