"""Real JPEG folders for demos, tests and benchmarks, made offline from images that ship with scikit-learn.

``sklearn.datasets.load_sample_images()`` gives two real photographs (china.jpg, flower.jpg,
427x640). Random crops of them, re-encoded at several sizes and JPEG qualities, make a folder of
any size with real decoding cost. Labels come from the source photo and a coarse crop position,
so a small CNN has something learnable.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

NUM_CLASSES = 4  # (photo, upper/lower half)


def _photos() -> list[np.ndarray]:
    try:
        from sklearn.datasets import load_sample_images
    except ImportError as exc:  # an optional dependency
        raise ImportError("making the sample JPEGs needs scikit-learn: pip install 'stoker[demo]'") from exc
    return list(load_sample_images().images)


def make_jpeg_folder(
    root: str | os.PathLike[str],
    count: int,
    seed: int = 0,
    sizes: tuple[int, ...] = (256, 320, 384),
    qualities: tuple[int, ...] = (75, 85, 95),
) -> list[str]:
    """Writes ``count`` JPEGs under ``root`` (reusing files already there) and returns their paths.

    File names carry the label: ``{i:06d}_c{label}.jpg``; see :func:`label_of`.

    Args:
        root: Output folder (created).
        count: Number of images.
        seed: Seed of the crop positions, sizes and qualities.
        sizes: Side lengths (pixels) of the square crops before re-encoding.
        qualities: JPEG qualities to choose from.
    """
    if count < 1:
        raise ValueError(f"{count=} should be >= 1")
    out = Path(root)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    photos = _photos()
    paths: list[str] = []
    for i in range(count):
        which = int(rng.integers(len(photos)))
        photo = photos[which]
        side = int(rng.choice(sizes))
        h, w = photo.shape[:2]
        side = min(side, h, w)
        top = int(rng.integers(0, h - side + 1))
        left = int(rng.integers(0, w - side + 1))
        quality = int(rng.choice(qualities))
        label = which * 2 + int(top + side / 2 > h / 2)
        path = out / f"{i:06d}_c{label}.jpg"
        if not path.exists():
            Image.fromarray(photo[top : top + side, left : left + side]).save(path, quality=quality)
        paths.append(str(path))
    return paths


def label_of(path: str) -> int:
    """The class encoded in a file name written by :func:`make_jpeg_folder`."""
    stem = Path(path).stem
    try:
        return int(stem.rsplit("_c", 1)[1])
    except (IndexError, ValueError):
        raise ValueError(f"{path!r} is not a file written by make_jpeg_folder (expected NAME_cLABEL.jpg)") from None
