"""``torch.utils.data.IterableDataset`` as a stream of ``num_shards`` virtual shards.

Each virtual shard iterates its own copy of the data set with ``get_worker_info()`` returning
``WorkerInfo(id=k, num_workers=K, seed, dataset)``, as inside worker ``k`` of a
``DataLoader(num_workers=K)``, so a data set that shards itself by ``get_worker_info()`` (the
usual idiom) yields the same records under stoker as under torch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch.utils.data._utils.worker as torch_worker
from torch.utils.data import IterableDataset
from torch.utils.data._utils.worker import WorkerInfo

from stoker.data.pipeline import Pipeline, Source
from stoker.data.rng import derive_seed, seeded
from stoker.data.streams.dataset_state import describe, libraries_of, resumable
from stoker.data.streams.libraries import check_shards
from stoker.data.streams.source import StreamSource

ITER_NAMESPACE = 1 << 41  # RNG keys of iter(dataset) calls: one per (epoch, shard), apart from samples


@contextlib.contextmanager
def worker_info(info: WorkerInfo) -> Iterator[None]:
    """Makes ``torch.utils.data.get_worker_info()`` return ``info`` inside the block.

    torch's worker loop sets the same module-level ``_worker_info`` once per worker process; a
    stoker worker runs several virtual shards, so it is set around each call into the data set.
    """
    saved = torch_worker._worker_info
    torch_worker._worker_info = info
    try:
        yield
    finally:
        torch_worker._worker_info = saved


def _copy(dataset: Any) -> Any:
    """A private copy per virtual shard, as each torch worker process has its own.

    A data set that cannot be pickled can still run in-process (``workers=0``, where torch does
    not copy it either); there its shards share the one object, as torch's main process would.
    """
    import cloudpickle

    try:
        return cloudpickle.loads(cloudpickle.dumps(dataset))
    except Exception:
        return dataset


class IterableReader:
    """One virtual shard of an iterable data set, open in a worker."""

    def __init__(self, dataset: Any, info: WorkerInfo, key: tuple[int, int, int], resume: Any, start: int) -> None:
        self.dataset = dataset
        self.info = info
        self.position = 0
        self.resumable = resumable(dataset)
        if resume is not None and self.resumable:
            dataset.load_state_dict(resume)
            self.position = start  # the data set continues from ``start`` by itself
        with worker_info(info), seeded(*key):
            self._it = iter(dataset)

    def next(self) -> Any:
        with worker_info(self.info):
            value = next(self._it)
        self.position += 1
        return value

    def state(self) -> Any:
        if not self.resumable:
            return None
        with worker_info(self.info):
            return self.dataset.state_dict()

    def where(self) -> str | None:
        return None

    def close(self) -> None:
        close = getattr(self._it, "close", None)
        if callable(close):
            close()


class IterableSource(StreamSource):
    """An iterable data set cut into ``num_shards`` virtual shards by ``get_worker_info()``.

    Args:
        dataset: Any iterable (an ``IterableDataset``, a ``ChainDataset``, a generator class).
        num_shards: Virtual shards ``K``: the ``num_workers`` the data set is told it runs on.
    """

    def __init__(self, dataset: Any, num_shards: int) -> None:
        self.dataset = dataset
        self.num_shards = num_shards
        self.name = f"{type(dataset).__name__}[{num_shards} shards]"
        self._label = describe(dataset)
        for library in libraries_of(dataset):
            check_shards(library, self._label, num_shards)

    @property
    def label(self) -> str:
        return self._label

    def open(self, shard: int, epoch: int, seed: int, start: int, resume: Any) -> IterableReader:
        copy = _copy(self.dataset)
        # torch gives worker k the seed base_seed + k; here base is derived from (seed, epoch) so
        # it is the same in every process and every run.
        worker_seed = (derive_seed(seed, epoch, ITER_NAMESPACE) + shard) & ((1 << 63) - 1)
        info = WorkerInfo(id=shard, num_workers=self.num_shards, seed=worker_seed, dataset=copy)
        return IterableReader(copy, info, (seed, epoch, ITER_NAMESPACE + shard), resume, start)


def from_iterable(dataset: Any, num_shards: int = 8) -> Pipeline:
    """A pipeline over an iterable data set, read as ``num_shards`` virtual shards.

    Virtual shard ``k`` iterates a copy of ``dataset`` with ``get_worker_info()`` saying worker
    ``k`` of ``num_shards``; the stream takes one block of each shard in turn (a batch, after
    :meth:`Pipeline.batch`), as ``torch.utils.data.DataLoader(dataset, num_workers=num_shards)``
    does. Any number of worker processes (``Loader(workers=...)``) runs the shards, and the
    stream is the same whatever that number. A shard that moves to another process (a killed
    worker, a scale-down) resumes from the ledger's offset through the data set's own
    ``state_dict()``/``load_state_dict()`` when it has them, else by replaying the shard from its
    start and dropping the records already delivered.

    Args:
        dataset: An ``IterableDataset`` or any iterable; it is copied once per shard and must
            give the same records each time it is iterated with the same worker info and seeds.
        num_shards: Virtual shards; at least the most worker processes you will run (a shard is
            read by one process at a time).

    Raises:
        TypeError: ``dataset`` is not iterable.
        ValueError: ``num_shards`` is not a positive int.
        InputError: ``dataset`` comes from a library that cannot be read as ``num_shards``
            virtual shards (see :mod:`stoker.data.streams.libraries`).
    """
    if not isinstance(dataset, IterableDataset) and not callable(getattr(dataset, "__iter__", None)):
        raise TypeError(f"from_iterable() takes an iterable data set, got {type(dataset).__name__}")
    if isinstance(num_shards, bool) or not isinstance(num_shards, int) or num_shards < 1:
        raise ValueError(f"from_iterable(num_shards={num_shards!r}) should be a positive int")
    source = IterableSource(dataset, num_shards)
    return Pipeline(Source("stream", source, source.name))
