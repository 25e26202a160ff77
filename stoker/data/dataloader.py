"""A drop-in for ``torch.utils.data.DataLoader`` backed by stoker's elastic workers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stoker.data.loader import Loader
from stoker.data.pipeline import from_dataset


class DataLoader(Loader):
    """``torch.utils.data.DataLoader``'s common arguments, with exactly-once elastic workers.

    Args:
        dataset: A map-style dataset.
        batch_size: Samples per batch; None yields single samples.
        shuffle: Reshuffle every epoch (from ``seed`` and the epoch number).
        num_workers: Worker processes, ``0`` for in-process, or ``"auto"``.
        collate_fn: Builds a batch from a list of samples.
        drop_last: Drop the last incomplete batch.
        seed: Seed of the shuffle and of per-sample randomness.
        **kwargs: Any other :class:`stoker.Loader` argument (``deterministic``, ``on_error``,
            ``max_workers``, ``backend`` ...). DataLoader-only arguments that stoker does not need
            (``pin_memory``, ``persistent_workers``, ``prefetch_factor``, ``worker_init_fn``)
            are accepted: workers always persist and prefetch; ``pin_memory`` is applied on CUDA
            by the training side.
    """

    _IGNORED = ("pin_memory", "persistent_workers", "multiprocessing_context", "generator")

    def __init__(
        self,
        dataset: Any,
        batch_size: int | None = 1,
        shuffle: bool = False,
        num_workers: int | str = 0,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        drop_last: bool = False,
        seed: int = 0,
        prefetch_factor: int | None = None,
        worker_init_fn: Callable[[int], None] | None = None,
        **kwargs: Any,
    ) -> None:
        if worker_init_fn is not None:
            raise ValueError(
                "worker_init_fn is not supported: stoker seeds every sample from (seed, epoch, index); "
                "open per-worker resources lazily inside the dataset instead"
            )
        for name in self._IGNORED:
            kwargs.pop(name, None)
        kwargs["timeout"] = kwargs.get("timeout") or None  # torch's 0 means "wait forever"
        pipe = from_dataset(dataset)
        if shuffle:
            pipe = pipe.shuffle(seed)
        if batch_size is not None:
            pipe = pipe.batch(batch_size, drop_last=drop_last, collate=collate_fn)
        elif collate_fn is not None:
            pipe = pipe.map(collate_fn)
        if prefetch_factor is not None:
            kwargs.setdefault("prefetch", prefetch_factor)
        self.dataset = dataset
        self.batch_size = batch_size
        super().__init__(pipe, workers=num_workers, seed=seed, **kwargs)
