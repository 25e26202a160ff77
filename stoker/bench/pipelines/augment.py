"""Heavy image augmentation: decode, two random colour maps, downscale, crop, flip, rotate, gray mix.

The colour operators are per-pixel lookup tables (brightness/contrast/gamma per channel, then a
random solarise/posterise): each output pixel depends on that pixel alone, so they commute
exactly with the nearest-neighbour 2x downscale that follows them, which only selects pixels.
Written in the natural order (colour on the full image, then downscale), the optimiser moves the
downscale to the front, where it joins the deterministic prefix that autocache keeps, and the
colour maps run on a quarter of the pixels.
"""

from __future__ import annotations

import numpy as np
import torch

import stoker
from stoker.bench._util import bench_dir
from stoker.bench.pipelines._base import Case
from stoker.io import read_image
from stoker.optimize.marks import pointwise, selects_pixels
from stoker.sample_data import label_of, make_jpeg_folder

NAME = "augment"
CROP = 112
_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1) * 255
_STD = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1) * 255


def decode(path: str) -> tuple[np.ndarray, int]:
    return np.asarray(read_image(path)), label_of(path)


@pointwise
def colour_jitter(sample: tuple[np.ndarray, int]) -> tuple[np.ndarray, int]:
    """Per-channel brightness, contrast (about mid-grey) and gamma, as one lookup table per channel."""
    pixels, label = sample
    rng = stoker.sample_rng()
    levels = np.arange(256, dtype=np.float32) / 255.0
    out = np.empty_like(pixels)
    for c in range(3):
        b, k, g = rng.uniform(0.7, 1.3), rng.uniform(0.7, 1.3), rng.uniform(0.7, 1.4)
        lut = np.clip(((levels * b - 0.5) * k + 0.5), 0.0, 1.0) ** g
        out[..., c] = (lut * 255.0 + 0.5).astype(np.uint8)[pixels[..., c]]
    return out, label


@pointwise
def solarize_posterize(sample: tuple[np.ndarray, int]) -> tuple[np.ndarray, int]:
    """With probability 1/2 each: solarise above a random threshold, keep a random number of bits."""
    pixels, label = sample
    rng = stoker.sample_rng()
    lut = np.arange(256, dtype=np.uint8)
    if rng.random() < 0.5:
        t = int(rng.integers(128, 256))
        lut = np.where(lut >= t, 255 - lut, lut).astype(np.uint8)
    if rng.random() < 0.5:
        bits = int(rng.integers(4, 8))
        lut = lut & np.uint8((0xFF << (8 - bits)) & 0xFF)
    return lut[pixels], label


@selects_pixels
def downscale(sample: tuple[np.ndarray, int]) -> tuple[np.ndarray, int]:
    """Nearest-neighbour 2x downscale (every other pixel: no interpolation)."""
    pixels, label = sample
    return np.ascontiguousarray(pixels[::2, ::2]), label


def crop_flip_rotate(sample: tuple[np.ndarray, int]) -> tuple[np.ndarray, int]:
    """Random 112x112 crop, random flip, random 90-degree rotation."""
    pixels, label = sample
    rng = stoker.sample_rng()
    h, w = pixels.shape[:2]
    top, left = int(rng.integers(0, h - CROP + 1)), int(rng.integers(0, w - CROP + 1))
    out = pixels[top : top + CROP, left : left + CROP]
    if rng.random() < 0.5:
        out = out[:, ::-1]
    return np.ascontiguousarray(np.rot90(out, int(rng.integers(0, 4)))), label


def gray_mix(sample: tuple[np.ndarray, int]) -> tuple[torch.Tensor, int]:
    """Blend towards grayscale by a random amount, then CHW float32 normalised."""
    pixels, label = sample
    x = torch.from_numpy(pixels).permute(2, 0, 1).to(torch.float32)
    a = float(stoker.sample_rng().uniform(0.0, 0.8))
    gray = (0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2]).expand_as(x)
    return ((x * (1 - a) + gray * a - _MEAN) / _STD).contiguous(), label


def build(images: int = 384, seed: int = 0) -> Case:
    paths = make_jpeg_folder(bench_dir("jpegs"), images)
    pipe = (
        stoker.from_files(paths)
        .shuffle(seed=seed)
        .map(decode)
        .map(colour_jitter)
        .map(solarize_posterize)
        .map(downscale)
        .map(crop_flip_rotate)
        .map(gray_mix)
        .batch(64)
    )
    return Case(NAME, pipe, "decode, 2 random colour LUTs, 2x downscale, crop/flip/rot90, gray mix; batch 64")
