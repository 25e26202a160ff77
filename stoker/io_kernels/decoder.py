"""The record every image decoder module exposes as ``DECODER``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Decoder:
    """One way to turn encoded image bytes into pixels.

    Attributes:
        name: Registry name (``"pillow"``, ``"simplejpeg"``).
        available: True when its package imports.
        decode: ``(data, source, draft) -> HWC uint8 RGB`` pixels. ``source`` names the file in
            errors; ``draft`` is None for an exact decode, or ``(width, height)`` in pixels for an
            approximate reduced-size (DCT-scaled) decode no smaller than that. Raises ``OSError``
            naming ``source`` for a corrupt or truncated file.
        install_hint: What to install to make it available.
    """

    name: str
    available: Callable[[], bool]
    decode: Callable[[bytes, str, tuple[int, int] | None], np.ndarray]
    install_hint: str
