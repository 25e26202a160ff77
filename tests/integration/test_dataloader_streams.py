"""stoker.DataLoader over an IterableDataset: the batches torch's DataLoader gives, through stoker's streams."""

import pytest
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

import stoker


class Sharded(IterableDataset):
    """Yields 0..n-1, each worker its own share by get_worker_info(), as torch's docs show."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __iter__(self):
        info = get_worker_info()
        k, m = (info.id, info.num_workers) if info is not None else (0, 1)
        for i in range(k, self.n, m):
            yield torch.tensor([i])


@pytest.mark.parametrize("workers", [0, 2])
def test_an_iterable_dataset_gives_torchs_batches(workers: int) -> None:
    theirs = [b.tolist() for b in DataLoader(Sharded(42), batch_size=4, num_workers=workers)]
    ours = [b.tolist() for b in stoker.DataLoader(Sharded(42), batch_size=4, num_workers=workers)]
    assert ours == theirs
    assert sorted(v for b in ours for row in b for v in row) == list(range(42))
