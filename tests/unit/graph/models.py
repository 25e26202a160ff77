"""Small programs (pipeline + model + loss) that the graph tests split."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

import stoker
from stoker.data.pipeline import Pipeline

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


@dataclass
class Case:
    name: str
    pipe: Pipeline
    model: nn.Module
    loss_fn: Callable[..., Any] | None


def _images(n: int, size: int = 16, seed: int = 0) -> list[tuple[torch.Tensor, int]]:
    g = torch.Generator().manual_seed(seed)
    return [(torch.randint(0, 256, (3, size, size), dtype=torch.uint8, generator=g), i % 10) for i in range(n)]


def one_hot_bce(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """A loss whose label preprocessing (one-hot) is stateless and may move."""
    return F.binary_cross_entropy_with_logits(out, F.one_hot(y, 10).float())


class PrefixCNN(nn.Module):
    """Stateless prefix (cast, scale, normalise with literals, flip as tensor ops) then a CNN."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.fc = nn.Linear(8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float() / 255.0
        x = (x - 0.45) / 0.25
        x = torch.cat([x, x.flip(-1)], dim=0)[: x.shape[0]]
        x = F.relu(self.conv(x))
        return self.fc(x.mean(dim=(2, 3)))


class BNNet(nn.Module):
    """BatchNorm right after a stateless prefix: its running statistics are state."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.bn = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(torch.float32).div(255.0)
        return self.fc(F.relu(self.bn(self.conv(x))).mean(dim=(2, 3)))


class BufferNorm(nn.Module):
    """Normalisation with read-only buffers (constants, not state)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x.float() / 255.0 - self.mean) / self.std


class NormNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.norm = BufferNorm()
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.tanh(self.conv(self.norm(x))).amax(dim=(2, 3)))


class TwoInput(nn.Module):
    """An image and a vector of side features, each with its own stateless preprocessing."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.side = nn.Linear(5, 4)
        self.head = nn.Linear(8, 10)

    def forward(self, img: torch.Tensor, feats: torch.Tensor) -> torch.Tensor:
        a = self.conv(img.float() / 255.0).mean(dim=(2, 3))
        f = torch.log1p(feats.clamp(min=0.0)).reshape(feats.shape[0], -1)
        return self.head(torch.cat([a, self.side(f)], dim=1))


class Recommender(nn.Module):
    """Embedding tables over hashed ids plus transformed dense features (DLRM-style)."""

    def __init__(self, buckets: int = 50) -> None:
        super().__init__()
        self.buckets = buckets
        self.register_buffer("dense_mean", torch.tensor([1.0, 2.0, 0.5, 3.0]))
        self.tables = nn.ModuleList([nn.Embedding(buckets, 6) for _ in range(3)])
        self.bottom = nn.Linear(4, 6)
        self.top = nn.Linear(24, 1)

    def forward(self, dense: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        dense = torch.log1p(dense.abs()) - self.dense_mean
        hashed = (ids * 2654435761) % self.buckets
        embs = [table(hashed[:, i]) for i, table in enumerate(self.tables)]
        z = torch.cat([self.bottom(dense), *embs], dim=1)
        return self.top(z).squeeze(1)


def _rec_items(n: int) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(1)
    out = []
    for _ in range(n):
        dense = torch.randn(4, generator=g) * 3
        ids = torch.randint(0, 10_000, (3,), generator=g)
        out.append((dense, ids, torch.rand((), generator=g)))
    return out


def _two_items(n: int) -> list[tuple[torch.Tensor, torch.Tensor, int]]:
    g = torch.Generator().manual_seed(2)
    return [(img, torch.randn(5, generator=g), y) for img, y in _images(n, 12, seed=3)]


def cases() -> list[Case]:
    """One program per model kind the issue names."""
    torch.manual_seed(0)
    return [
        Case("prefix_cnn", stoker.from_items(_images(32)).batch(8), PrefixCNN(), F.cross_entropy),
        Case("batchnorm", stoker.from_items(_images(32)).batch(8), BNNet(), F.cross_entropy),
        Case("buffer_norm", stoker.from_items(_images(32)).batch(8), NormNet(), one_hot_bce),
        Case("two_input", stoker.from_items(_two_items(32)).batch(8), TwoInput(), F.cross_entropy),
        Case("recommender", stoker.from_items(_rec_items(32)).batch(8), Recommender(), F.mse_loss),
    ]


def uint8_image_case(size: int = 32) -> Case:
    """The uint8-image example: JPEG-like uint8 crops, a model that casts and normalises first."""
    torch.manual_seed(0)
    return Case("uint8_images", stoker.from_items(_images(16, size)).batch(8), NormNet(), one_hot_bce)
