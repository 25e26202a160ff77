"""Shard files grouped into virtual shards: file ``j`` belongs to virtual shard ``j % K``.

A virtual shard reads its files one after the other; record ``r`` of the virtual shard is found
by the files' record counts (a Parquet footer, a tar index), which are read only when a reader
must start past record 0 (a shard moved to another worker, a resume).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from stoker.data.rng import derive_seed
from stoker.data.streams.source import StreamSource

SHUFFLE_NAMESPACE = 1 << 42


class ShardFormat(Protocol):
    """How to read one kind of shard file (tar, Parquet, Arrow)."""

    name: str

    def count(self, url: str) -> int:
        """Records in the file."""
        ...

    def records(self, url: str, start: int) -> Iterator[tuple[Any, str]]:
        """(record, where) from record ``start`` of the file to its end; ``where`` names it in errors."""
        ...


class FileShardReader:
    """Virtual shard reader over a list of files; ``position`` counts records across them."""

    def __init__(self, fmt: ShardFormat, files: list[str], start: int) -> None:
        self.fmt = fmt
        self.files = files
        self.position = start
        self._where: str | None = None
        self._file = 0
        skip = start
        # Skip whole files by their counts, then start inside the file that holds ``start``.
        while self._file < len(files) and skip > 0:
            n = fmt.count(files[self._file])
            if skip < n:
                break
            skip -= n
            self._file += 1
        self._it: Iterator[tuple[Any, str]] | None = None
        self._skip = skip

    def next(self) -> Any:
        while self._file < len(self.files):
            if self._it is None:
                self._it = self.fmt.records(self.files[self._file], self._skip)
                self._skip = 0
            try:
                record, self._where = next(self._it)
            except StopIteration:
                self._it = None
                self._file += 1
                continue
            self.position += 1
            return record
        raise StopIteration

    def state(self) -> Any:
        return None  # a file shard seeks by record count; no state needed

    def where(self) -> str | None:
        return self._where

    def close(self) -> None:
        close = getattr(self._it, "close", None)
        if callable(close):
            close()
        self._it = None


class FileShards(StreamSource):
    """Shard files of one format read as ``num_shards`` virtual shards.

    Args:
        fmt: The file format.
        files: Shard URLs.
        num_shards: Virtual shards (``<= len(files)``).
        shuffle: Deal files to virtual shards in a new order each epoch (from the Loader's seed).
    """

    def __init__(self, fmt: ShardFormat, files: list[str], num_shards: int, shuffle: bool) -> None:
        self.fmt = fmt
        self.files = files
        self.num_shards = num_shards
        self.shuffle = shuffle
        self.name = f"{fmt.name}[{len(files)} files, {num_shards} shards]"

    def files_of(self, shard: int, epoch: int, seed: int) -> list[str]:
        """The files virtual shard ``shard`` reads in ``epoch``, in order."""
        order = list(range(len(self.files)))
        if self.shuffle:
            import numpy as np

            rng = np.random.default_rng(derive_seed(seed, epoch, SHUFFLE_NAMESPACE) & ((1 << 63) - 1))
            order = [int(j) for j in rng.permutation(len(self.files))]
        return [self.files[j] for j in order[shard :: self.num_shards]]

    def open(self, shard: int, epoch: int, seed: int, start: int, resume: Any) -> FileShardReader:
        return FileShardReader(self.fmt, self.files_of(shard, epoch, seed), start)
