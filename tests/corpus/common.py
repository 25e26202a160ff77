"""The record every corpus program fills in, and small synthetic data sets (the corpus runs offline).

Each module in ``tests/corpus`` is a real program from a public repository (its licence and
source line at the top), trimmed only to run offline on tiny shapes, followed by a ``case()``
that says how it trains: the pipeline (the original's data loading, on synthetic data), the
model, the loss as the original writes it, and ``plain_step``, the original training step,
which the driver runs unsplit on the same batches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from stoker.data.pipeline import Pipeline


@dataclass
class Case:
    """One corpus program, ready to partition and train.

    Attributes:
        pipe: The data pipeline (batches as the original's loader yields them).
        model: The model, in train mode.
        loss_fn: The loss as the original writes it (closure, module or function), or None.
        plain_step: ``(model, batch, state) -> loss``: the original step, unsplit.
        kwargs: Extra ``stoker.partition`` arguments (``inputs=``, ``target=``).
        carry_init: ``model -> {name: initial state}`` for trainer-carried state, or None.
        before_step: ``{name: state} -> {name: state}`` run before every step (e.g. detach).
        steps: Training steps the driver compares.
        lr: SGD learning rate of the comparison.
    """

    pipe: Pipeline
    model: nn.Module
    loss_fn: Callable[..., Any] | None
    plain_step: Callable[[nn.Module, Any, dict[str, Any]], torch.Tensor]
    kwargs: dict[str, Any] = field(default_factory=dict)
    carry_init: Callable[[nn.Module], dict[str, Any]] | None = None
    before_step: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    steps: int = 3
    lr: float = 0.01


def images(n: int, channels: int, size: int, classes: int = 10, seed: int = 0) -> list[tuple[torch.Tensor, int]]:
    """``n`` random uint8 images (C, H, W) with labels: the shape of a decoded image data set."""
    g = torch.Generator().manual_seed(seed)
    return [
        (torch.randint(0, 256, (channels, size, size), dtype=torch.uint8, generator=g), i % classes) for i in range(n)
    ]


def to_tensor(img: torch.Tensor) -> torch.Tensor:
    """torchvision's ``ToTensor`` on a uint8 tensor: float in [0, 1]."""
    return img.float().div(255.0)


def tokens(n: int, vocab: int, seed: int = 0) -> torch.Tensor:
    """A stream of ``n`` token ids (a tokenised corpus)."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab, (n,), generator=g)
