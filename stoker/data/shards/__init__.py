"""Shard files (WebDataset tar, Parquet, Arrow) as a stream of virtual shards.

Splits are (virtual shard, record range) blocks of the stream ledger
(:mod:`stoker.data.streams`); a block that moves to another worker seeks to its first record
(tar index, Parquet row groups) instead of replaying, so kills, scaling and ``state_dict``
resume cost one seek.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from stoker.data.pipeline import Pipeline, Source
from stoker.data.shards.files import expand
from stoker.data.shards.parquet import ArrowFormat, ParquetFormat, require_pyarrow
from stoker.data.shards.source import FileShards, ShardFormat
from stoker.data.shards.tar import TarFormat

DEFAULT_MAX_SHARDS = 16  # virtual shards when not given: a constant, so the stream never depends on the machine

_SUFFIXES = {".tar": "tar", ".parquet": "parquet", ".pq": "parquet", ".arrow": "arrow", ".feather": "arrow"}
FORMATS = ("auto", "tar", "parquet", "arrow")


def _format_of(url: str) -> str:
    for suffix, name in _SUFFIXES.items():
        if url.lower().endswith(suffix):
            return name
    raise ValueError(
        f"from_shards(format='auto') cannot tell the format of {url!r} from its suffix "
        f"({', '.join(_SUFFIXES)}); pass format='tar', 'parquet' or 'arrow'"
    )


def _make_format(name: str, columns: Sequence[str] | None) -> ShardFormat:
    if name == "tar":
        if columns is not None:
            raise ValueError("from_shards(columns=...) selects Parquet/Arrow columns; tar shards have none")
        return TarFormat()
    require_pyarrow()
    if name == "parquet":
        return ParquetFormat(columns)
    return ArrowFormat(columns)


def from_shards(
    paths_or_glob: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    format: str = "auto",
    *,
    num_shards: int | None = None,
    shuffle: bool = False,
    columns: Sequence[str] | None = None,
) -> Pipeline:
    """A pipeline over shard files: WebDataset tar shards, Parquet or Arrow IPC files.

    Records are samples of a tar shard (``{"__key__", "__url__", ext: bytes, ...}``) or rows of a
    table (``{column: value}``); decode them with :meth:`Pipeline.map`. File ``j`` belongs to
    virtual shard ``j % num_shards``, which reads its files in turn; the stream takes one block
    of each virtual shard in turn (see :func:`stoker.from_iterable`). Files are opened through
    fsspec, so ``s3://`` and ``gs://`` URLs work where the matching fsspec package is installed.

    Args:
        paths_or_glob: A glob (``"data/train-*.tar"``, ``"s3://bucket/shards/*.parquet"``), one
            path, or a list of paths (read in the order given).
        format: ``"auto"`` (from the suffix), ``"tar"``, ``"parquet"`` or ``"arrow"``.
        num_shards: Virtual shards; default ``min(files, 16)``. At least the most worker
            processes you will run; a constant for a data set, since it fixes the stream.
        shuffle: Deal the files to virtual shards in a new order every epoch (from the Loader's
            seed and the epoch; still exactly once and resumable).
        columns: Parquet/Arrow columns to read (default all).

    Raises:
        FileNotFoundError: No file matches.
        ValueError: An unknown format, or ``num_shards`` outside ``[1, files]``.
    """
    if format not in FORMATS:
        raise ValueError(f"from_shards(format={format!r}) should be one of {', '.join(FORMATS)}")
    files = expand(paths_or_glob)
    names = {_format_of(f) for f in files} if format == "auto" else {format}
    if len(names) > 1:
        raise ValueError(f"from_shards got files of several formats ({', '.join(sorted(names))}); read one at a time")
    k = min(len(files), DEFAULT_MAX_SHARDS) if num_shards is None else num_shards
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= len(files):
        raise ValueError(
            f"from_shards(num_shards={num_shards!r}) should be an int in [1, {len(files)}] (the number of files)"
        )
    source = FileShards(_make_format(names.pop(), columns), files, k, bool(shuffle))
    return Pipeline(Source("stream", source, source.name))
