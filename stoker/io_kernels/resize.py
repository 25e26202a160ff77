"""Crop-and-resize kernels behind :func:`stoker.io.random_resized_crop`, chosen per call by name.

- ``"pillow"`` (the default): Pillow's bilinear resize of a box of the image; the filter reads
  pixels just outside the box, as the box is a window on the whole image.
- ``"torch"``: torch's antialiased bilinear uint8 kernel on the cropped pixels (torchvision's
  ``resized_crop`` semantics: the crop is cut first, so edges clamp to the crop). About 2x
  cheaper than Pillow's; inside the crop the two agree within 1 level, at its edges they differ
  (up to tens of levels on small crops), so it is a different op, chosen explicitly, never
  substituted for ``"pillow"``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from PIL import Image

from stoker.registry import Registry

Box = tuple[int, int, int, int]  # left, top, right, bottom in pixels


def pillow_resized_crop(img: Image.Image | np.ndarray, box: Box, size: int) -> Image.Image | np.ndarray:
    """Pillow's bilinear resize of ``box`` to ``size`` x ``size``; returns the input's kind."""
    pil = Image.fromarray(img) if isinstance(img, np.ndarray) else img
    # reduce() lets PIL decimate big crops cheaply before the bilinear resize.
    out = pil.resize((size, size), Image.Resampling.BILINEAR, box=box, reducing_gap=2.0)
    return np.asarray(out) if isinstance(img, np.ndarray) else out


def torch_resized_crop(img: Image.Image | np.ndarray, box: Box, size: int) -> Image.Image | np.ndarray:
    """Cuts ``box`` and resizes it with torch's antialiased bilinear uint8 kernel; returns the input's kind."""
    pixels = np.asarray(img)
    left, top, right, bottom = box
    # An HWC array seen as 1xCxHxW is channels-last, the layout torch's uint8 kernel is fastest on.
    crop = torch.from_numpy(np.array(pixels[top:bottom, left:right], order="C")).permute(2, 0, 1)[None]
    out = torch.nn.functional.interpolate(crop, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    hwc = out[0].permute(1, 2, 0).numpy()  # channels-last out: this view is contiguous HWC
    return hwc if isinstance(img, np.ndarray) else Image.fromarray(hwc)


RESIZE_KERNELS: Registry[Callable[[Image.Image | np.ndarray, Box, int], Image.Image | np.ndarray]] = Registry(
    "resize kernel", {"pillow": pillow_resized_crop, "torch": torch_resized_crop}
)
