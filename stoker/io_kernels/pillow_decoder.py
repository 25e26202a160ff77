"""Pillow's decoder: every format Pillow reads; the reference the faster decoders must equal."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from stoker.io_kernels.decoder import Decoder


def open_rgb(data: bytes, source: str, draft: tuple[int, int] | None) -> Image.Image:
    """Decodes fully now (a truncated file fails in this sample, not later) and converts to RGB."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            if draft is not None:
                img.draft("RGB", draft)  # DCT scaling: JPEG only, size stays >= draft (approximate)
            img.load()
            return img.convert("RGB") if img.mode != "RGB" else img.copy()
    except (OSError, SyntaxError, ValueError) as exc:  # PIL raises all three for bad files
        raise OSError(f"cannot decode image {source!r}: {exc}") from exc


def decode(data: bytes, source: str, draft: tuple[int, int] | None) -> np.ndarray:
    """Encoded bytes -> HWC uint8 RGB pixels, through Pillow."""
    return np.asarray(open_rgb(data, source, draft))


DECODER = Decoder("pillow", lambda: True, decode, "pip install pillow")
