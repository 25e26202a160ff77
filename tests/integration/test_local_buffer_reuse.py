"""Shared-memory batch buffers are reused only after the trainer has dropped every view of them,
and the pool stays bounded however many batches the trainer holds."""

import gc

import torch

import stoker
from tests.common.pipelines import big


def _check(batch: torch.Tensor) -> list[int]:
    ids = batch[:, 0, 0].long().tolist()
    assert torch.equal(batch, torch.stack([torch.full((16, 1024), float(i)) for i in ids]))
    return ids


def test_held_batches_are_never_overwritten_and_dropped_ones_are_reused() -> None:
    pipe = stoker.from_items(list(range(400))).shuffle(seed=0).map(big).batch(8)
    with stoker.Loader(pipe, workers=2) as loader:
        held = list(loader)  # every batch of epoch 0 kept alive, uncloned
        seen = [i for b in held for i in _check(b)]
        files_while_held = len(loader.pool._mapped)
        del held
        gc.collect()
        for batch in loader:  # epoch 1 drops each batch before the next one
            seen += _check(batch)
        files_after = len(loader.pool._mapped)
    assert sorted(seen) == sorted(list(range(400)) * 2)
    cap = loader.stats()["shm_pool"]["files_per_worker_cap"]
    # Holding all 50 batches does not grow the pool past its cap: the rest went through copies.
    assert files_while_held <= 2 * cap
    assert files_after <= 2 * cap  # epoch 1 reused the pooled files instead of making 50 more
