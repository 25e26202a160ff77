"""Parquet and Arrow IPC shards: one record per row, as a ``{column: value}`` dict.

Rows are read about ``read_bytes`` at a time (Parquet: through the streaming reader, without
pre-buffering whole row groups), so a reader holds one small record batch whatever the file and
row sizes: a worker keeps one reader open per virtual shard it owns.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any

from stoker.data.shards.files import fingerprint, open_file


def require_pyarrow() -> None:
    """Fails early, at from_shards(), with the install command when pyarrow is missing."""
    try:
        import pyarrow  # noqa: F401
    except ImportError as exc:  # an optional dependency
        raise ImportError("reading Parquet/Arrow shards needs pyarrow: pip install 'stoker[shards]'") from exc


def _rows(batch: Any, url: str, first: int) -> Iterator[tuple[dict[str, Any], str]]:
    for j, row in enumerate(batch.to_pylist()):
        yield row, f"{url}:row {first + j}"


class ParquetFormat:
    """Reads Parquet files; record ``r`` is row ``r`` across the file's row groups.

    Args:
        columns: Columns to read (default all).
        read_bytes: Bytes decoded at a time (rows per read from the footer's average row size).
    """

    name = "parquet"

    def __init__(self, columns: Sequence[str] | None = None, read_bytes: int = 4 << 20) -> None:
        self.columns = list(columns) if columns is not None else None
        self.read_bytes = read_bytes

    def _rows_per_read(self, meta: Any) -> int:
        rows = max(1, meta.num_rows)
        size = sum(meta.row_group(g).total_byte_size for g in range(meta.num_row_groups))
        return int(min(1024, max(1, self.read_bytes * rows // max(1, size))))

    def count(self, url: str) -> int:
        return sum(_row_groups(fingerprint(url)))

    def records(self, url: str, start: int) -> Iterator[tuple[dict[str, Any], str]]:
        import pyarrow.parquet as pq

        with open_file(url) as f:
            pf = pq.ParquetFile(f, pre_buffer=False, buffer_size=1 << 20)
            counts = [pf.metadata.row_group(g).num_rows for g in range(pf.num_row_groups)]
            g, row, skip = 0, 0, start
            while g < len(counts) and skip >= counts[g]:  # whole row groups before ``start``
                skip -= counts[g]
                row += counts[g]
                g += 1
            if g == len(counts):
                return
            batches = pf.iter_batches(
                batch_size=self._rows_per_read(pf.metadata),
                row_groups=list(range(g, len(counts))),
                columns=self.columns,
                use_threads=False,
            )
            for batch in batches:
                if skip >= batch.num_rows:
                    skip -= batch.num_rows
                    row += batch.num_rows
                    continue
                if skip:
                    batch, row, skip = batch.slice(skip), row + skip, 0
                yield from _rows(batch, url, row)
                row += batch.num_rows


@lru_cache(maxsize=1024)
def _row_groups(mark: tuple[str, int, str]) -> tuple[int, ...]:
    """Rows per row group, from the footer only (cached per file version)."""
    import pyarrow.parquet as pq

    with open_file(mark[0]) as f:
        meta = pq.ParquetFile(f).metadata
        return tuple(meta.row_group(g).num_rows for g in range(meta.num_row_groups))


class ArrowFormat:
    """Reads Arrow IPC files (``.arrow``, ``.feather`` v2); record ``r`` is row ``r`` across record batches."""

    name = "arrow"

    def __init__(self, columns: Sequence[str] | None = None) -> None:
        self.columns = list(columns) if columns is not None else None

    def count(self, url: str) -> int:
        return sum(_batch_rows(fingerprint(url)))

    def records(self, url: str, start: int) -> Iterator[tuple[dict[str, Any], str]]:
        import pyarrow as pa

        with open_file(url) as f:
            reader = pa.ipc.open_file(f)
            row, skip = 0, start
            for i in range(reader.num_record_batches):
                batch = reader.get_batch(i)
                if skip >= batch.num_rows:
                    skip -= batch.num_rows
                    row += batch.num_rows
                    continue
                if self.columns is not None:
                    batch = batch.select(self.columns)
                if skip:
                    batch, row, skip = batch.slice(skip), row + skip, 0
                yield from _rows(batch, url, row)
                row += batch.num_rows


@lru_cache(maxsize=1024)
def _batch_rows(mark: tuple[str, int, str]) -> tuple[int, ...]:
    import pyarrow as pa

    with open_file(mark[0]) as f:
        reader = pa.ipc.open_file(f)
        return tuple(reader.get_batch(i).num_rows for i in range(reader.num_record_batches))
