"""The fast decoder in real worker processes gives the stream the Pillow path gives in the trainer."""

from __future__ import annotations

import functools
import os

import torch
from PIL import Image

import stoker
from stoker.io_kernels import image_backend


def _jpegs(folder: str, count: int = 16) -> str:
    from benchmarks.image_kernels import sample_photos

    photo = sample_photos()[1]
    for i in range(count):
        crop = photo[i * 9 : i * 9 + 375, i * 5 : i * 5 + 500]
        Image.fromarray(crop).save(os.path.join(folder, f"{i:03d}.jpg"), quality=(75, 95)[i % 2])
    return os.path.join(folder, "*.jpg")


def _load(path: str, backend: str | None) -> torch.Tensor:
    from stoker.io import random_hflip, random_resized_crop, read_image, to_uint8_tensor

    img = read_image(path, backend=backend, as_array=backend is None)
    return to_uint8_tensor(random_hflip(random_resized_crop(img, 64)))


def test_workers_with_the_default_decoder_match_pillow_in_the_trainer(tmp_path) -> None:
    pattern = _jpegs(str(tmp_path))
    fast = stoker.from_files(pattern).shuffle(seed=1).map(functools.partial(_load, backend=None)).batch(4)
    ref = stoker.from_files(pattern).shuffle(seed=1).map(functools.partial(_load, backend="pillow")).batch(4)
    with stoker.Loader(fast, workers=2, seed=5) as a, stoker.Loader(ref, workers=0, seed=5) as b:
        for epoch in range(2):
            got, want = list(a), list(b)
            assert len(got) == len(want) == 4, epoch
            for x, y in zip(got, want, strict=True):
                assert x.shape == (4, 3, 64, 64) and x.dtype == torch.uint8
                assert torch.equal(x, y), f"epoch {epoch}: default decoder {image_backend()!r} differs from Pillow"
        assert a.state_dict()["fingerprint"]["image_decoder"] == image_backend()
