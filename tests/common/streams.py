"""Iterable data sets for tests: they shard themselves by get_worker_info(), as user code does."""

from __future__ import annotations

import torch
from torch.utils.data import IterableDataset, get_worker_info


class Numbers(IterableDataset):
    """0..n-1, worker k of K taking every K-th number; each record is [number, a global-RNG draw]."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __iter__(self):
        info = get_worker_info()
        k, K = (info.id, info.num_workers) if info is not None else (0, 1)
        for i in range(k, self.n, K):
            yield torch.tensor([float(i), float(torch.rand(()))], dtype=torch.float64)


class CountingNumbers(Numbers):
    """Like :class:`Numbers` with torchdata's Stateful protocol: resumes without replaying."""

    def __init__(self, n: int) -> None:
        super().__init__(n)
        self.next_index: int | None = None
        self.replayed = 0

    def state_dict(self) -> dict:
        return {"next": self.next_index}

    def load_state_dict(self, state: dict) -> None:
        self.next_index = state["next"]

    def __iter__(self):
        info = get_worker_info()
        k, K = (info.id, info.num_workers) if info is not None else (0, 1)
        i = k if self.next_index is None else self.next_index
        while i < self.n:
            self.next_index = i + K
            yield torch.tensor([float(i), float(torch.rand(()))], dtype=torch.float64)
            i += K


def slow(x: torch.Tensor) -> torch.Tensor:
    """~2 ms per record, so kills land mid-epoch."""
    import time

    time.sleep(0.002)
    return x
