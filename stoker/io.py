"""Reading and augmenting images with PIL and torch only (no torchvision dependency).

The random transforms draw from :func:`stoker.sample_generator`, so they are reproducible per
sample whichever worker runs them.

JPEG decoding goes through ``simplejpeg`` when it is installed (``pip install 'stoker[fast]'``):
libjpeg-turbo's TurboJPEG API with the same accurate IDCT and upsampling Pillow uses, so the pixels
are the same (712 of 712 real JPEGs of the benchmark folders; ``tests/unit/test_io.py`` checks it), about 2x faster to
decode than Pillow's decoder on this machine (median of 5 interleaved rounds over 150 JPEGs at load
average 25, shared machine). Anything else (PNG, CMYK or grayscale JPEG, a file it refuses) takes
Pillow's path, so a truncated file still raises ``OSError``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image

from stoker.data.rng import sample_rng

try:  # optional: an exact, faster JPEG decoder (stoker[fast])
    import simplejpeg as _simplejpeg
except ImportError:  # pragma: no cover - without the extra, Pillow decodes
    _simplejpeg = None

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _fast_jpeg(data: bytes) -> np.ndarray | None:
    """HWC uint8 RGB of a YCbCr JPEG through simplejpeg, or None to leave it to Pillow."""
    if _simplejpeg is None or not data.startswith(b"\xff\xd8"):
        return None
    try:
        if _simplejpeg.decode_jpeg_header(data)[2] != "YCbCr":
            return None  # Pillow's CMYK and grayscale conversions are its own: keep them
        # strict: a recoverable error (a truncated file) raises, and Pillow then reports it as OSError.
        return _simplejpeg.decode_jpeg(data, colorspace="RGB", fastdct=False, fastupsample=False, strict=True)
    except ValueError:
        return None


def read_image(path: str, mode: str = "RGB") -> Image.Image:
    """Opens and fully decodes an image; a truncated or corrupt file raises ``OSError`` here.

    Args:
        path: Image file.
        mode: PIL mode to convert to.
    """
    if mode == "RGB" and _simplejpeg is not None:
        with open(path, "rb") as f:
            data = f.read()
        pixels = _fast_jpeg(data)
        if pixels is not None:
            return Image.fromarray(pixels, "RGB")
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
