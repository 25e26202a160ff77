"""The data part of a plan runs in real worker processes; training through it matches the unsplit run."""

from __future__ import annotations

import copy
import os

import torch
from PIL import Image

import stoker
from tests.unit.graph.models import NormNet, one_hot_bce


def _jpegs(folder: str, count: int = 24) -> str:
    from sklearn.datasets import load_sample_images

    photo = load_sample_images().images[0]
    for i in range(count):
        crop = photo[i * 7 : i * 7 + 120, i * 11 : i * 11 + 160]
        Image.fromarray(crop).save(os.path.join(folder, f"{i:03d}_{i % 10}.jpg"), quality=85)
    return os.path.join(folder, "*.jpg")


def _load(path: str) -> tuple[torch.Tensor, int]:
    from stoker.io import random_hflip, random_resized_crop, read_image, to_uint8_tensor

    img = random_hflip(random_resized_crop(read_image(path), 32))
    return to_uint8_tensor(img), int(os.path.basename(path)[4])


def test_split_training_with_worker_processes_matches_unsplit(tmp_path) -> None:
    pipe = stoker.from_files(_jpegs(str(tmp_path))).shuffle().map(_load).batch(8)
    torch.manual_seed(0)
    model = NormNet()
    twin = copy.deepcopy(model)
    for objective in ("fewest_bytes", "all_stateless"):
        split_model, plain_model = copy.deepcopy(model), copy.deepcopy(twin)
        plan = stoker.partition(pipe, split_model, one_hot_bce, objective=objective, workers=2)
        opt_a = torch.optim.SGD(split_model.parameters(), lr=0.1)
        opt_b = torch.optim.SGD(plain_model.parameters(), lr=0.1)
        with stoker.Loader(plan, workers=2, seed=3) as split_loader, stoker.Loader(pipe, workers=0, seed=3) as plain:
            for received, (x, y) in zip(split_loader, plain, strict=True):
                opt_a.zero_grad()
                plan.train_module(*received).backward()
                opt_a.step()
                opt_b.zero_grad()
                one_hot_bce(plain_model(x), y).backward()
                opt_b.step()
        for p, q in zip(split_model.parameters(), plain_model.parameters()):
            torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-6)
