"""Scaling down waits for the trainer to read a drained worker's last batches: nothing is recomputed."""

from __future__ import annotations

import torch

import stoker
from tests.common.chaos import run_epochs
from tests.common.pipelines import big


def test_scaling_down_repeatedly_reissues_and_loses_nothing() -> None:
    pipe = stoker.from_items(list(range(960))).shuffle(seed=2).map(big).batch(8)  # 512 KiB batches: pooled files
    with stoker.Loader(pipe, workers=3) as loader:

        def updown(ld, step: int) -> None:
            if step % 3 == 0:
                ld.scale([3, 1, 2, 1][(step // 3) % 4])

        got = run_epochs(loader, 1, updown)
        stats = loader.stats()
    ids = sorted(int(b[i, 0, 0]) for b in got[0] for i in range(b.shape[0]))
    assert ids == list(range(960))
    assert all(
        torch.equal(b, torch.stack([torch.full((16, 1024), float(b[i, 0, 0])) for i in range(8)])) for b in got[0]
    )
    assert len(stats["workers_timeline"]) > 20  # it really scaled up and down many times
    assert stats["workers_lost"] == 0
    assert stats["splits_reissued"] == 0  # drained workers' finished batches were read, not recomputed
