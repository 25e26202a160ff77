"""Batches whose byte size changes every step (padding to the longest sample, multi-scale crops)
reuse a bounded pool of shared-memory files: ``/dev/shm`` and the trainer's descriptors stay flat."""

from __future__ import annotations

import os
import resource

import psutil
import pytest
import torch

import stoker
from stoker.backends.lifeline import shm_prefix
from stoker.data.transport import shm_dir

WORKERS = 2
PREFETCH = 2
BATCH = 8
BATCHES = 2000


def bucketed(i: int) -> torch.Tensor:
    """A sample padded to its bucket's length: every batch has another byte size (16-160 KiB a sample)."""
    length = 4096 + ((i // BATCH) * 7919) % 36864
    return torch.full((length,), float(i))


def _entries() -> int:
    prefix = os.path.basename(shm_prefix(os.getpid()))
    return sum(f.startswith(prefix) for f in os.listdir(shm_dir()))


@pytest.mark.timeout(600)
def test_2000_batches_of_changing_size_keep_shm_and_descriptors_bounded_under_ulimit_1024() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, hard), hard))
    me = psutil.Process()
    try:
        pipe = stoker.from_items(list(range(BATCHES * BATCH))).map(bucketed).batch(BATCH)
        with stoker.Loader(pipe, workers=WORKERS, prefetch=PREFETCH) as loader:
            it = iter(loader)
            first = next(it)
            sizes = {first.shape[1]}
            fds0, shm0 = me.num_fds(), _entries()
            peak_fds = peak_shm = 0
            seen = int(first[0, 0]) // BATCH
            count = 1
            for batch in it:
                assert int(batch[0, 0]) // BATCH == seen + 1 and bool((batch[:, 0] == batch[:, -1]).all())
                seen += 1
                count += 1
                sizes.add(batch.shape[1])
                peak_fds = max(peak_fds, me.num_fds() - fds0)
                peak_shm = max(peak_shm, _entries() - shm0)
            stats = loader.stats()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    bound = WORKERS * PREFETCH * 2 + 4
    print(f"{count} batches, {len(sizes)} sizes: peak +{peak_shm} /dev/shm entries, +{peak_fds} fds (bound {bound})")
    assert count == BATCHES and len(sizes) > 100  # really many byte sizes
    assert stats["workers_lost"] == 0  # no false "worker vanished" from running out of descriptors
    assert peak_shm <= bound, (peak_shm, bound)
    assert peak_fds <= bound, (peak_fds, bound)
    pool = stats["shm_pool"]
    assert pool["files_mapped"] <= WORKERS * pool["files_per_worker_cap"]
    assert _entries() == 0  # closed: nothing of this process left in /dev/shm
