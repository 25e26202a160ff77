"""Reading and augmenting images with PIL and torch only (no torchvision dependency).

The random transforms draw from :func:`stoker.sample_generator`, so they are reproducible per
sample whichever worker runs them.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image

from stoker.data.rng import sample_rng

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def read_image(path: str, mode: str = "RGB") -> Image.Image:
    """Opens and fully decodes an image; a truncated or corrupt file raises ``OSError`` here.

    Args:
        path: Image file.
        mode: PIL mode to convert to.
    """
    with Image.open(path) as img:
        img.load()  # decode now, so a truncated JPEG fails in this sample, not later
        return img.convert(mode) if img.mode != mode else img.copy()


def random_resized_crop(
    img: Image.Image,
    size: int,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> Image.Image:
    """Crops a random area and aspect ratio and resizes it to ``size`` x ``size`` (Inception-style)."""
    rng = sample_rng()
    width, height = img.size
    area = width * height
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target = area * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(*log_ratio))
        w = round(math.sqrt(target * aspect))
        h = round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            left = int(rng.integers(0, width - w + 1))
            top = int(rng.integers(0, height - h + 1))
            break
    else:  # fall back to a central crop
        w, h = min(width, height), min(width, height)
        left, top = (width - w) // 2, (height - h) // 2
    # reduce() lets PIL decimate big crops cheaply before the bilinear resize.
    return img.resize((size, size), Image.Resampling.BILINEAR, box=(left, top, left + w, top + h), reducing_gap=2.0)


def random_hflip(img: Image.Image, p: float = 0.5) -> Image.Image:
    """Mirrors left-right with probability ``p``."""
    return img.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if sample_rng().random() < p else img


def to_uint8_tensor(img: Image.Image) -> torch.Tensor:
    """HWC uint8 image -> CHW uint8 tensor (4x fewer bytes to move than float32)."""
    return torch.from_numpy(np.asarray(img, dtype=np.uint8).copy()).permute(2, 0, 1).contiguous()


def normalize(
    x: torch.Tensor, mean: tuple[float, ...] = IMAGENET_MEAN, std: tuple[float, ...] = IMAGENET_STD
) -> torch.Tensor:
    """uint8 CHW (or NCHW) -> float32, scaled to [0, 1] and normalised per channel."""
    m = torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(-1, 1, 1)
    return (x.to(torch.float32) / 255.0 - m) / s
