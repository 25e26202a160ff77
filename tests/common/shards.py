"""Small real shard files for tests: WebDataset tars and Parquet files whose records carry their number."""

from __future__ import annotations

import io
import os
import tarfile

import numpy as np
import torch

import stoker


def write_tar_shards(folder: str, files: int, per_file: int, payload: int = 16) -> list[str]:
    """``files`` tar shards of ``per_file`` samples each; sample ``n`` has ``.idx`` (its number
    as text) and ``.bin`` (``payload`` bytes derived from ``n``)."""
    os.makedirs(folder, exist_ok=True)
    paths = []
    n = 0
    for j in range(files):
        path = os.path.join(folder, f"shard-{j:04d}.tar")
        with tarfile.open(path, "w") as tf:
            for _ in range(per_file):
                for ext, data in (("idx", str(n).encode()), ("bin", _payload(n, payload))):
                    info = tarfile.TarInfo(f"s/{n:08d}.{ext}")
                    info.size = len(data)
                    tf.addfile(info, io.BytesIO(data))
                n += 1
        paths.append(path)
    return paths


def write_parquet_shards(folder: str, files: int, per_file: int, row_group: int = 7, payload: int = 16) -> list[str]:
    """``files`` Parquet files of ``per_file`` rows (columns ``idx`` int64, ``bin`` binary) in
    row groups of ``row_group`` rows, uncompressed so file size is the payload size."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    os.makedirs(folder, exist_ok=True)
    paths = []
    n = 0
    for j in range(files):
        idx = list(range(n, n + per_file))
        table = pa.table({"idx": pa.array(idx, pa.int64()), "bin": pa.array([_payload(i, payload) for i in idx])})
        path = os.path.join(folder, f"part-{j:04d}.parquet")
        pq.write_table(table, path, row_group_size=row_group, compression="none")
        paths.append(path)
        n += per_file
    return paths


def _payload(n: int, size: int) -> bytes:
    return np.random.default_rng(n).integers(0, 256, size, dtype=np.uint8).tobytes()


def tar_tag(sample: dict) -> torch.Tensor:
    """[sample number, a per-sample random draw, payload checksum]: identity, determinism, integrity."""
    n = int(sample["idx"])
    g = stoker.sample_generator()
    return torch.tensor(
        [float(n), float(torch.rand((), generator=g)), float(sum(sample["bin"][:64]))], dtype=torch.float64
    )


def row_tag(row: dict) -> torch.Tensor:
    n = int(row["idx"])
    g = stoker.sample_generator()
    return torch.tensor(
        [float(n), float(torch.rand((), generator=g)), float(sum(row["bin"][:64]))], dtype=torch.float64
    )


def write_big_shards(folder: str, kind: str, total_bytes: int, sample_bytes: int, file_bytes: int) -> int:
    """Shards of about ``total_bytes`` of payload for memory tests; returns the number of samples.

    Payload bytes are distinct per sample (its number, repeated) and stored without compression or
    dictionary encoding, so the files on disk are as large as the data streamed.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    os.makedirs(folder, exist_ok=True)
    per_file = max(1, file_bytes // sample_bytes)
    samples = max(1, total_bytes // sample_bytes)
    n = 0
    j = 0
    while n < samples:
        count = min(per_file, samples - n)
        blobs = [np.full(sample_bytes, (n + i) % 251, dtype=np.uint8).tobytes() for i in range(count)]
        if kind == "tar":
            with tarfile.open(os.path.join(folder, f"big-{j:04d}.tar"), "w") as tf:
                for i, blob in enumerate(blobs):
                    for ext, data in (("idx", str(n + i).encode()), ("bin", blob)):
                        info = tarfile.TarInfo(f"{n + i:09d}.{ext}")
                        info.size = len(data)
                        tf.addfile(info, io.BytesIO(data))
        else:
            table = pa.table({"idx": pa.array(range(n, n + count), pa.int64()), "bin": pa.array(blobs, pa.binary())})
            path = os.path.join(folder, f"big-{j:04d}.parquet")
            pq.write_table(table, path, row_group_size=64, compression="none", use_dictionary=False)
        n += count
        j += 1
    return samples


def payload_tensor(sample: dict) -> dict:
    """A big sample as {"idx": int, "bin": uint8 tensor}: what a decode map would hand on."""
    return {"idx": int(sample["idx"]), "bin": torch.frombuffer(bytearray(sample["bin"]), dtype=torch.uint8)}
