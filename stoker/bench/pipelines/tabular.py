"""Tabular / recommendation records from Parquet: hash ids, mask ids, normalise, bucketise.

Records are written once with pyarrow (click logs: user, item and category ids as strings,
dense counts and prices, a click label) and read through :class:`ParquetRows`, a small source of
this module's own (it should become ``stoker.from_shards`` once that exists). Hashing the ids
is deterministic; the id masking reads the RNG; normalising and bucketising act element-wise,
so they can run once per batch.
"""

from __future__ import annotations

import os
import zlib
from typing import Any

import numpy as np
import torch

import stoker
from stoker.bench._util import bench_dir
from stoker.bench.pipelines._base import Case

NAME = "tabular"
BUCKETS = 1 << 20  # hashed id space
DENSE = ("price", "age_days", "views", "clicks_7d", "dwell_s", "rank")
IDS = ("user", "item", "category", "city")
_MEAN = torch.tensor([3.0, 5.0, 4.0, 1.5, 3.0, 2.0])
_STD = torch.tensor([1.0, 1.5, 1.5, 1.0, 1.2, 1.0])
_EDGES = torch.linspace(-3.0, 3.0, 15)


def write_parquet(root: str, rows: int, files: int = 2, seed: int = 0) -> list[str]:
    """Writes ``files`` Parquet files of ``rows`` records in all (kept if present)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    paths = []
    per = -(-rows // files)
    for f in range(files):
        path = os.path.join(root, f"clicks-{rows}-{f}.parquet")
        paths.append(path)
        if os.path.exists(path):
            continue
        n = min(per, rows - f * per)
        table = pa.table(
            {
                "user": [f"u{int(x)}" for x in rng.zipf(1.3, n) % 50_000],
                "item": [f"i{int(x)}" for x in rng.zipf(1.2, n) % 200_000],
                "category": [f"c{int(x)}" for x in rng.integers(0, 300, n)],
                "city": [f"city{int(x)}" for x in rng.integers(0, 40, n)],
                "price": rng.lognormal(3, 1, n),
                "age_days": rng.exponential(200, n),
                "views": rng.poisson(50, n).astype(np.float64),
                "clicks_7d": rng.poisson(3, n).astype(np.float64),
                "dwell_s": rng.exponential(20, n),
                "rank": rng.integers(1, 50, n).astype(np.float64),
                "label": rng.random(n) < 0.1,
            }
        )
        pq.write_table(table, path + ".tmp", row_group_size=4096)
        os.replace(path + ".tmp", path)
    return paths


class ParquetRows:
    """Map-style records from Parquet files: ``rows[i]`` is a dict of one row's values.

    The files are read lazily once per process (workers open them themselves), column by
    column into Python lists, so a row costs a few dict lookups.
    """

    def __init__(self, paths: list[str]) -> None:
        import pyarrow.parquet as pq

        self.paths = list(paths)
        self._len = sum(pq.ParquetFile(p).metadata.num_rows for p in self.paths)
        self._cols: dict[str, list[Any]] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"paths": self.paths, "_len": self._len, "_cols": None}

    def __len__(self) -> int:
        return self._len

    def _load(self) -> dict[str, list[Any]]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.concat_tables([pq.read_table(p) for p in self.paths])
        return {name: table.column(name).to_pylist() for name in table.column_names}

    def __getitem__(self, i: int) -> dict[str, Any]:
        if not 0 <= i < self._len:
            raise IndexError(f"row {i} out of range [0, {self._len})")
        if self._cols is None:
            self._cols = self._load()
        return {name: col[i] for name, col in self._cols.items()}


def featurize(row: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Hashes the id strings (CRC32, stable across processes) and log-scales the dense values."""
    ids = torch.tensor([zlib.crc32(f"{k}={row[k]}".encode()) % BUCKETS for k in IDS], dtype=torch.int64)
    dense = torch.tensor([float(row[k]) for k in DENSE], dtype=torch.float32).log1p()
    return {"ids": ids, "dense": dense, "label": torch.tensor(float(row["label"]))}


def mask_ids(rec: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Replaces each id by the 0 bucket with probability 0.1 (per-sample RNG)."""
    keep = torch.rand(rec["ids"].shape, generator=stoker.sample_generator()) >= 0.1
    return {**rec, "ids": rec["ids"] * keep}


def normalise(rec: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Standardises the dense features (element-wise: works on one record or a batch)."""
    return {**rec, "dense": (rec["dense"] - _MEAN) / _STD}


def bucketise(rec: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Adds the bucket index of each standardised dense value (element-wise)."""
    return {**rec, "dense_bucket": torch.bucketize(rec["dense"], _EDGES)}


def build(rows: int = 12_288, seed: int = 0) -> Case:
    paths = write_parquet(bench_dir("parquet"), rows)
    pipe = (
        stoker.from_dataset(ParquetRows(paths))
        .shuffle(seed=seed)
        .map(featurize)
        .map(mask_ids)
        .map(normalise)
        .map(bucketise)
        .batch(512)
    )
    return Case(NAME, pipe, f"{rows} Parquet click records: hash ids, mask ids, normalise, bucketise; batch 512")
