"""The JPEG pipeline read from WebDataset tar shards, for stoker and for ``torch.utils.data``.

Both sides do the same work per sample: read the tar member, decode the JPEG, random-resized-crop,
flip, normalise (:func:`stoker.bench._pipelines.decode_augment`'s steps on bytes). torch's side is
an ``IterableDataset`` that deals shard files to ``DataLoader`` workers by ``get_worker_info()``,
as WebDataset does: a fair streaming baseline.
"""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import IterableDataset, get_worker_info

from stoker.io import normalize, random_hflip, random_resized_crop, read_image, to_uint8_tensor
from stoker.sample_data import label_of


def write_jpeg_shards(folder: str, paths: list[str], samples: int, per_file: int) -> list[str]:
    """Tar shards holding ``samples`` samples (``NNNNNNNN.jpg`` + ``.cls``), cycling over ``paths``."""
    os.makedirs(folder, exist_ok=True)
    out = []
    for j in range(-(-samples // per_file)):
        path = os.path.join(folder, f"jpegs-{samples}-{per_file}-{j:04d}.tar")
        if not os.path.exists(path):
            tmp = f"{path}.tmp"
            with tarfile.open(tmp, "w") as tf:
                for n in range(j * per_file, min(samples, (j + 1) * per_file)):
                    src = paths[n % len(paths)]
                    tf.add(src, arcname=f"{n:08d}.jpg")
                    cls = str(label_of(src)).encode()
                    info = tarfile.TarInfo(f"{n:08d}.cls")
                    info.size = len(cls)
                    tf.addfile(info, io.BytesIO(cls))
            os.replace(tmp, path)
        out.append(path)
    return out


def decode_sample(sample: dict[str, Any], size: int = 224) -> tuple[torch.Tensor, int]:
    """A tar sample's JPEG decoded and augmented; its label."""
    img = random_hflip(random_resized_crop(read_image(io.BytesIO(sample["jpg"])), size))  # type: ignore[arg-type]
    return normalize(to_uint8_tensor(img)), int(sample["cls"])


class TarJpegStream(IterableDataset):
    """The shards as an ``IterableDataset``: DataLoader worker ``k`` of ``K`` reads files ``k::K``."""

    def __init__(self, shards: list[str], size: int = 224) -> None:
        self.shards = list(shards)
        self.size = size

    def __iter__(self) -> Iterator[tuple[torch.Tensor, int]]:
        from stoker.data.rng import seeded

        info = get_worker_info()
        k, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        for path in self.shards[k::workers]:
            with tarfile.open(path, "r|") as tf:
                sample: dict[str, Any] = {}
                for m in tf:
                    key, ext = m.name.split(".", 1)
                    f = tf.extractfile(m)
                    sample[ext] = f.read() if f is not None else b""
                    if "jpg" in sample and "cls" in sample:
                        # The same per-sample seeding stoker does, so both sides draw alike.
                        with seeded(0, 0, int(key)):
                            out = decode_sample(sample, self.size)
                        sample = {}
                        yield out
