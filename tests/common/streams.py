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


def stream_pipelines(folder: str) -> dict:
    """The three stream sources the elastic tests run, keyed by name, over files in ``folder``.

    Every record becomes [number, a per-sample random draw, ...] after ~2 ms of work, so kills
    land mid-epoch and the tests can check identity, determinism and coverage.
    """
    import os

    import stoker
    from tests.common.shards import row_tag, tar_tag, write_parquet_shards, write_tar_shards

    tar_dir, pq_dir = os.path.join(folder, "tar"), os.path.join(folder, "parquet")
    if not os.path.isdir(tar_dir):
        write_tar_shards(tar_dir, 6, 40)
        write_parquet_shards(pq_dir, 5, 48, row_group=7)
    return {
        "iterable": (stoker.from_iterable(Numbers(240), num_shards=4).map(slow).batch(8), 240),
        "tar": (stoker.from_shards(os.path.join(tar_dir, "*.tar"), num_shards=4).map(tar_tag).map(slow).batch(8), 240),
        "parquet": (
            stoker.from_shards(os.path.join(pq_dir, "*.parquet"), num_shards=4).map(row_tag).map(slow).batch(8),
            240,
        ),
    }


def consume(folder: str, name: str, steps: int | None, state_in: str | None, state_out: str | None, out: str) -> None:
    """Child-process half of the resume test: optionally load a state, take ``steps`` batches (all
    when None), optionally save the state, and write the batches taken to ``out``."""
    import itertools
    import pickle

    import stoker

    pipe, _ = stream_pipelines(folder)[name]
    with stoker.Loader(pipe, workers=2, seed=0) as loader:
        if state_in:
            with open(state_in, "rb") as f:
                loader.load_state_dict(pickle.load(f))
        it = iter(loader)
        taken = [b.clone() for b in itertools.islice(it, steps)]
        if state_out:
            with open(state_out, "wb") as f:
                pickle.dump(loader.state_dict(), f)
    torch.save(taken, out)


class RankLevelState(Numbers):
    """:class:`Numbers` whose ``state_dict`` takes arguments and works only in the trainer, as litdata's
    ``StreamingDataset.state_dict(num_samples_yielded, num_workers, batch_size)`` does."""

    def state_dict(self, num_samples_yielded: int, num_workers: int, batch_size: int) -> dict:
        if get_worker_info() is not None:
            raise RuntimeError("The method `state_dict` should only be called in the main process.")
        return {"num_samples_yielded": num_samples_yielded}

    def load_state_dict(self, state: dict) -> None:
        raise AssertionError("stoker must not restore a rank-level state into a virtual shard")


class BrokenState(CountingNumbers):
    """:class:`CountingNumbers` whose ``state_dict()`` raises after ``after`` records of a shard."""

    def __init__(self, n: int, after: int) -> None:
        super().__init__(n)
        self.after = after

    def state_dict(self) -> dict:
        if self.next_index is not None and self.next_index >= self.after:
            raise KeyError(f"no state past record {self.after}")
        return super().state_dict()
