"""An ImageFolder-style data set with torchvision-style transforms, written with PIL and torch only.

What a user's training script holds: class folders of JPEGs, a ``Dataset`` that opens each with PIL,
and ``Compose([RandomResizedCrop(224), RandomHorizontalFlip(), PILToTensor()])`` drawing from the
global torch RNG (which torch's DataLoader seeds per worker and per epoch). torchvision itself is
not used: the registry here serves torchvision 0.28.0 only as a CUDA build whose compiled ops do not
load beside the CPU torch 2.13.0 (``operator torchvision::nms does not exist``), and timm's transforms
import it. The classes follow torchvision's algorithms (``RandomResizedCrop.get_params``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

WIDTH, HEIGHT = 500, 375  # the image pipeline: 500x375 JPEGs


def make_image_folder(root: str | os.PathLike[str], count: int, classes: int = 4, seed: int = 0) -> str:
    """Writes ``count`` 500x375 JPEGs cut from scikit-learn's sample photos into ``classes`` folders.

    Files already there are kept, so a benchmark pays for them once. Returns ``root``.
    """
    from sklearn.datasets import load_sample_images

    photos = load_sample_images().images
    rng = np.random.default_rng(seed)
    for i in range(count):
        folder = Path(root) / f"class{i % classes}"
        path = folder / f"{i:06d}.jpg"
        if path.exists():
            continue
        folder.mkdir(parents=True, exist_ok=True)
        photo = photos[i % len(photos)]
        h, w = photo.shape[:2]
        top, left = int(rng.integers(0, h - HEIGHT + 1)), int(rng.integers(0, w - WIDTH + 1))
        Image.fromarray(photo[top : top + HEIGHT, left : left + WIDTH]).save(path, quality=int(rng.choice([75, 90])))
    return str(root)


class ImageFolder(torch.utils.data.Dataset):
    """torchvision's ``ImageFolder``: ``(transform(PIL image), class index)`` from ``root/<class>/<file>``."""

    def __init__(self, root: str, transform: Callable[[Image.Image], Any] | None = None) -> None:
        self.classes = sorted(d.name for d in os.scandir(root) if d.is_dir())
        self.samples = [
            (os.path.join(root, c, f), i)
            for i, c in enumerate(self.classes)
            for f in sorted(os.listdir(os.path.join(root, c)))
        ]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        path, target = self.samples[index]
        with open(path, "rb") as f:
            img = Image.open(f).convert("RGB")
        return (self.transform(img) if self.transform is not None else img), target


class Compose:
    def __init__(self, transforms: Sequence[Callable[[Any], Any]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, x: Any) -> Any:
        for t in self.transforms:
            x = t(x)
        return x


class RandomResizedCrop:
    """torchvision's ``RandomResizedCrop(size)`` on a PIL image (bilinear), drawing from torch's RNG."""

    def __init__(
        self, size: int, scale: tuple[float, float] = (0.08, 1.0), ratio: tuple[float, float] = (3 / 4, 4 / 3)
    ):
        self.size, self.scale, self.ratio = size, scale, ratio

    def params(self, width: int, height: int) -> tuple[int, int, int, int]:
        area = width * height
        log_ratio = torch.log(torch.tensor(self.ratio))
        for _ in range(10):
            target = area * torch.empty(1).uniform_(*self.scale).item()
            aspect = math.exp(torch.empty(1).uniform_(log_ratio[0].item(), log_ratio[1].item()).item())
            w, h = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
            if 0 < w <= width and 0 < h <= height:
                top = int(torch.randint(0, height - h + 1, size=(1,)).item())
                left = int(torch.randint(0, width - w + 1, size=(1,)).item())
                return top, left, h, w
        side = min(width, height)  # fall back to a central crop
        return (height - side) // 2, (width - side) // 2, side, side

    def __call__(self, img: Image.Image) -> Image.Image:
        top, left, h, w = self.params(*img.size)
        return img.resize((self.size, self.size), Image.Resampling.BILINEAR, box=(left, top, left + w, top + h))


class RandomHorizontalFlip:
    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def __call__(self, img: Image.Image) -> Image.Image:
        return img.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if torch.rand(1).item() < self.p else img


class PILToTensor:
    """HWC uint8 PIL image -> CHW uint8 tensor."""

    def __call__(self, img: Image.Image) -> torch.Tensor:
        return torch.from_numpy(np.asarray(img, dtype=np.uint8).copy()).permute(2, 0, 1).contiguous()


def train_transform(size: int = 224) -> Compose:
    """The issue's augmentation: random-resized-crop to ``size``, flip, uint8 CHW."""
    return Compose([RandomResizedCrop(size), RandomHorizontalFlip(), PILToTensor()])
