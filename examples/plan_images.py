"""A training program whose model starts with a stateless prefix: ``stoker plan examples/plan_images.py``.

The pipeline decodes real JPEGs (cut from scikit-learn's sample photos), crops and flips them
and yields uint8 tensors; the model casts, scales and normalises with read-only buffers before
its first convolution. ``stoker plan`` prints where each node runs and why, and draws the plan.
Run this file directly to train a few steps through the split.
"""

from __future__ import annotations

import os
import tempfile

import torch
import torch.nn.functional as F
from torch import nn

import stoker
from stoker.io import IMAGENET_MEAN, IMAGENET_STD, random_hflip, random_resized_crop, read_image, to_uint8_tensor


def jpeg_folder(count: int = 64) -> str:
    """Writes ``count`` JPEG crops of scikit-learn's sample photos to a temporary folder (once)."""
    from PIL import Image
    from sklearn.datasets import load_sample_images

    folder = os.path.join(tempfile.gettempdir(), f"stoker-plan-jpegs-{count}")
    if os.path.isdir(folder) and len(os.listdir(folder)) == count:
        return folder
    os.makedirs(folder, exist_ok=True)
    photos = load_sample_images().images
    for i in range(count):
        photo = photos[i % len(photos)]
        h, w = photo.shape[:2]
        top, left = (i * 37) % (h // 2), (i * 53) % (w // 2)
        Image.fromarray(photo[top : top + h // 2, left : left + w // 2]).save(
            os.path.join(folder, f"{i:04d}_{i % 10}.jpg"), quality=80 + i % 15
        )
    return folder


def load(path: str) -> tuple[torch.Tensor, int]:
    img = random_hflip(random_resized_crop(read_image(path), 64))
    return to_uint8_tensor(img), int(os.path.basename(path)[5])


class Net(nn.Module):
    """Stateless prefix (cast, scale, normalise with constant buffers), then a small CNN."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.conv1 = nn.Conv2d(3, 16, 3, stride=2, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, stride=2, padding=1)
        self.fc = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x.float() / 255.0 - self.mean) / self.std
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.conv2(x))
        return self.fc(x.mean(dim=(2, 3)))


pipe = stoker.from_files(os.path.join(jpeg_folder(), "*.jpg")).shuffle().map(load).batch(16)
model = Net()
loss_fn = F.cross_entropy

if __name__ == "__main__":
    plan = stoker.partition(pipe, model, loss_fn)
    print(plan.explain())
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    with stoker.Loader(plan, workers=2, seed=0) as loader:
        for step, received in enumerate(loader):
            loss = plan.train_module(*received)
            opt.zero_grad()
            loss.backward()
            opt.step()
            print(f"step {step}: loss {loss.item():.4f}")
