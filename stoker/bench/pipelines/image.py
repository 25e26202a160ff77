"""Image classification: JPEG decode, random-resized-crop 224, flip, normalise (batch 32).

JPEGs are crops of the photos scikit-learn ships, re-encoded at several sizes and qualities
(:func:`stoker.sample_data.make_jpeg_folder`). Decode is deterministic and the most expensive
step, so autocache keeps the decoded pixels; the crop and flip draw from the sample's RNG and run
every epoch.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

import stoker
from stoker.bench._util import bench_dir
from stoker.bench.pipelines._base import Case
from stoker.io import normalize, random_hflip, random_resized_crop, read_image, to_uint8_tensor
from stoker.sample_data import label_of, make_jpeg_folder

NAME = "image"


def decode(path: str) -> tuple[np.ndarray, int]:
    """JPEG file -> (HWC uint8 pixels, label)."""
    return np.asarray(read_image(path)), label_of(path)


def crop_flip(sample: tuple[np.ndarray, int]) -> tuple[Image.Image, int]:
    """Random-resized-crop to 224 and a random horizontal flip (per-sample RNG)."""
    pixels, label = sample
    return random_hflip(random_resized_crop(Image.fromarray(pixels), 224)), label


def to_float(sample: tuple[Image.Image, int]) -> tuple[torch.Tensor, int]:
    """CHW float32, ImageNet-normalised."""
    img, label = sample
    return normalize(to_uint8_tensor(img)), label


def build(images: int = 384, seed: int = 0) -> Case:
    paths = make_jpeg_folder(bench_dir("jpegs"), images)
    pipe = stoker.from_files(paths).shuffle(seed=seed).map(decode).map(crop_flip).map(to_float).batch(32)
    return Case(NAME, pipe, "JPEG decode, random-resized-crop 224, flip, normalise; batch 32")
