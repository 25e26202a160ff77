"""scikit-learn's ``load_digits`` (1,797 real 8x8 handwritten digits) and a small residual MLP.

Used by ``stoker train ps`` and ``stoker bench ps``: a real labelled data set that ships inside a
package, so they run with no download.
"""

from __future__ import annotations

import torch
from torch import nn


def load(test_fraction: float = 0.2, split_seed: int = 0) -> tuple[torch.Tensor, ...]:
    """``(x_train, y_train, x_test, y_test)``: pixels scaled to [0, 1], a stratified held-out split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    x = torch.tensor(data.data, dtype=torch.float32) / 16.0
    y = torch.tensor(data.target, dtype=torch.int64)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=test_fraction, random_state=split_seed, stratify=y.numpy())
    return xtr, ytr, xte, yte


class Block(nn.Module):
    """``h + fc2(relu(fc1(h)))``; saves two activations of width ``width`` per sample.

    ``fc2`` starts at zero so every block starts as the identity, as Goyal et al. (2017, sec. 5.1)
    zero-initialise the last BN of each residual block: it keeps the large scaled LR stable early on.
    """

    def __init__(self, width: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(width, width)
        self.fc2 = nn.Linear(width, width)
        nn.init.zeros_(self.fc2.weight)
        nn.init.zeros_(self.fc2.bias)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.fc2(torch.relu(self.fc1(h)))


class ResMLP(nn.Sequential):
    """64 → ``width`` → ``depth`` residual blocks → 10 classes."""

    def __init__(self, width: int = 128, depth: int = 6, inputs: int = 64, classes: int = 10) -> None:
        super().__init__(nn.Linear(inputs, width), *(Block(width) for _ in range(depth)), nn.Linear(width, classes))


def make_model(seed: int = 0, width: int = 128, depth: int = 6) -> ResMLP:
    """A :class:`ResMLP` with initial weights drawn from ``seed`` (picklable via ``functools.partial``)."""
    torch.manual_seed(seed)
    return ResMLP(width, depth)


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Top-1 accuracy in percent."""
    model.eval()
    return float((model(x).argmax(1) == y).float().mean()) * 100.0
