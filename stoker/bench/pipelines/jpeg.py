"""The reference JPEG pipeline the older benchmarks and the demo share, in stoker and DataLoader form."""

from __future__ import annotations

from typing import Any

import torch

from stoker.io import normalize, random_hflip, random_resized_crop, read_image, to_uint8_tensor
from stoker.sample_data import label_of


def decode_augment(path: str, size: int = 224) -> tuple[torch.Tensor, int]:
    """JPEG decode + random-resized-crop + flip + float tensor (the brief's reference pipeline)."""
    img = random_hflip(random_resized_crop(read_image(path), size))
    return normalize(to_uint8_tensor(img)), label_of(path)


class JpegDataset(torch.utils.data.Dataset):
    """The same work as :func:`decode_augment`, as a map-style Dataset for ``torch.utils.data.DataLoader``.

    Randomness comes from stoker's per-sample RNG when run by stoker; under DataLoader the same
    calls take a key drawn from the worker's torch RNG (:func:`~stoker.bench._util.user_seeded`), so
    both do the same work per sample and both draw new augmentation every epoch.
    """

    def __init__(self, paths: list[str], size: int = 224) -> None:
        self.paths = list(paths)
        self.size = size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> Any:
        from stoker.bench._util import user_seeded
        from stoker.data.rng import sample_key

        if sample_key() is None:
            with user_seeded(i):
                return decode_augment(self.paths[i], self.size)
        return decode_augment(self.paths[i], self.size)
