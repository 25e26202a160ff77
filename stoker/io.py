"""Reading and augmenting images with PIL and torch only (no torchvision dependency).

The random transforms draw from :func:`stoker.sample_rng`, so they are reproducible per sample
whichever worker runs them. Every op takes a PIL image or an HWC uint8 numpy array and returns the
same kind, with bit-identical pixels. Arrays pay off with a decoder that makes them (simplejpeg) and
the torch resize kernel; with Pillow decoding and resizing, PIL images copy less. The decoder is
the fastest installed one (see :mod:`stoker.io_kernels`); docs/kernels.md has the measurements.
"""

from __future__ import annotations

import math
import os
from typing import IO, Literal, TypeVar, overload

import numpy as np
import torch
from PIL import Image

from stoker.data.rng import sample_rng
from stoker.io_kernels import decoder, image_backend
from stoker.io_kernels.pillow_decoder import open_rgb
from stoker.io_kernels.resize import RESIZE_KERNELS

ImageT = TypeVar("ImageT", Image.Image, np.ndarray)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


PathOrFile = str | os.PathLike[str] | IO[bytes]


@overload
def read_image(
    path: PathOrFile,
    mode: str = ...,
    *,
    backend: str | None = ...,
    draft: tuple[int, int] | None = ...,
    as_array: Literal[False] = ...,
) -> Image.Image: ...


@overload
def read_image(
    path: PathOrFile,
    mode: str = ...,
    *,
    backend: str | None = ...,
    draft: tuple[int, int] | None = ...,
    as_array: Literal[True],
) -> np.ndarray: ...


def read_image(
    path: PathOrFile,
    mode: str = "RGB",
    *,
    backend: str | None = None,
    draft: tuple[int, int] | None = None,
    as_array: bool = False,
) -> Image.Image | np.ndarray:
    """Opens and fully decodes an image; a truncated or corrupt file raises ``OSError`` naming it.

    Args:
        path: Image file, or a binary file object.
        mode: PIL mode to convert to. ``"RGB"`` uses the process's decoder (below); other modes
            decode with Pillow.
        backend: Decoder name (``"pillow"``, ``"simplejpeg"``); None uses
            :func:`stoker.io_kernels.image_backend`, the same for every sample of a process.
        draft: Approximate, off by default: decode a JPEG at a reduced size (DCT scaling: M/8
            with simplejpeg, 1/2, 1/4 or 1/8 with Pillow, so the decoder changes the result) no
            smaller than this ``(width, height)`` in pixels. Faster, but the pixels and the size
            differ from a full decode, so random crops drawn from them differ too.
        as_array: Return HWC uint8 pixels (numpy) instead of a PIL image; the ops in this module
            take either (arrays save copies with simplejpeg and ``kernel="torch"``, not with Pillow).
    """
    source = str(getattr(path, "name", path)) if not isinstance(path, (str, os.PathLike)) else os.fspath(path)
    if mode != "RGB":
        return _read_pil_mode(path, source, mode, draft, as_array)
    if hasattr(path, "read"):
        data = path.read()  # type: ignore[union-attr]
    else:
        with open(path, "rb") as f:  # type: ignore[arg-type]
            data = f.read()
    name = backend if backend is not None else image_backend()
    if name == "pillow" and not as_array:
        return open_rgb(data, source, draft)  # already a PIL image: no round trip through numpy
    pixels = decoder(name).decode(data, source, draft)
    return pixels if as_array else Image.fromarray(pixels)


def _read_pil_mode(
    path: PathOrFile, source: str, mode: str, draft: tuple[int, int] | None, as_array: bool
) -> Image.Image | np.ndarray:
    try:
        with Image.open(path) as img:
            if draft is not None:
                img.draft(mode, draft)
            img.load()  # decode now, so a truncated JPEG fails in this sample, not later
            out = img.convert(mode) if img.mode != mode else img.copy()
    except (OSError, SyntaxError, ValueError) as exc:
        raise OSError(f"cannot decode image {source!r}: {exc}") from exc
    return np.asarray(out) if as_array else out


def _size(img: Image.Image | np.ndarray) -> tuple[int, int]:
    """(width, height) in pixels of a PIL image or an HWC array."""
    return (img.shape[1], img.shape[0]) if isinstance(img, np.ndarray) else img.size


def random_resized_crop(
    img: ImageT,
    size: int,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    *,
    kernel: str = "pillow",
) -> ImageT:
    """Crops a random area and aspect ratio and resizes it to ``size`` x ``size`` (Inception-style).

    Args:
        img: PIL image or HWC uint8 array; the result is of the same kind (an array gives the
            same pixels as the PIL image of it).
        size: Output side in pixels.
        scale: Range of the crop's area as a fraction of the image's.
        ratio: Range of the crop's aspect ratio (width / height).
        kernel: ``"pillow"`` (default) or ``"torch"``: about 2x cheaper, torchvision's semantics,
            different pixels at the crop's edges (see :mod:`stoker.io_kernels.resize`). The random
            parameters are the same for both.
    """
    resize = RESIZE_KERNELS.lookup(kernel)
    rng = sample_rng()
    width, height = _size(img)
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
    return resize(img, (left, top, left + w, top + h), size)  # type: ignore[return-value]


def random_hflip(img: ImageT, p: float = 0.5) -> ImageT:
    """Mirrors left-right with probability ``p`` (an array comes back as a view: no copy)."""
    if sample_rng().random() >= p:
        return img
    return img[:, ::-1] if isinstance(img, np.ndarray) else img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)


def to_uint8_tensor(img: Image.Image | np.ndarray) -> torch.Tensor:
    """HWC (or HW) uint8 image -> CHW uint8 tensor (4x fewer bytes to move than float32).

    One copy does the transpose (and a pending flip of an array view) at once.
    """
    pixels = np.asarray(img, dtype=np.uint8)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    return torch.from_numpy(np.array(pixels.transpose(2, 0, 1), order="C", copy=True))


def normalize(
    x: torch.Tensor, mean: tuple[float, ...] = IMAGENET_MEAN, std: tuple[float, ...] = IMAGENET_STD
) -> torch.Tensor:
    """uint8 CHW (or NCHW) -> float32, scaled to [0, 1] and normalised per channel.

    In place on one new float tensor: the same operations in the same order as
    ``(x / 255 - mean) / std`` (so the same bits), without its three temporaries.
    """
    m = torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(-1, 1, 1)
    y = x.to(torch.float32, copy=True)  # copy: a float32 input must not be changed in place
    return y.div_(255.0).sub_(m).div_(s)
