"""Optimisers that run on a shard over its flat parameter range.

Both are elementwise, so applying them range by range equals applying them to the whole model.
The arithmetic follows ``torch.optim.SGD`` / ``torch.optim.Adam`` (foreach off) step for step, so
a parameter-server run matches a single-process run with the torch optimiser.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch


def _clone(t: torch.Tensor | None) -> torch.Tensor | None:
    return None if t is None else t.clone()


@dataclass
class SGD:
    """SGD with momentum (``torch.optim.SGD`` semantics, dampening 0, no Nesterov).

    Attributes:
        momentum: Momentum factor.
        weight_decay: L2 penalty added to the gradient.
    """

    momentum: float = 0.9
    weight_decay: float = 0.0
    buf: torch.Tensor | None = None

    def step(self, param: torch.Tensor, grad: torch.Tensor, lr: float) -> None:
        """Updates ``param`` in place."""
        if self.weight_decay:
            grad = grad.add(param, alpha=self.weight_decay)
        if self.momentum:
            if self.buf is None:
                self.buf = grad.clone()
            else:
                self.buf.mul_(self.momentum).add_(grad)
            grad = self.buf
        param.add_(grad, alpha=-lr)

    def state_dict(self) -> dict[str, Any]:
        return {"buf": _clone(self.buf)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.buf = _clone(state["buf"])


@dataclass
class Adam:
    """Adam (``torch.optim.Adam`` semantics, no AMSGrad).

    Attributes:
        betas: Decay of the first and second moment estimates.
        eps: Added to the denominator for stability.
        weight_decay: L2 penalty added to the gradient.
    """

    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    t: int = 0
    m: torch.Tensor | None = None
    v: torch.Tensor | None = None

    def step(self, param: torch.Tensor, grad: torch.Tensor, lr: float) -> None:
        """Updates ``param`` in place."""
        if self.m is None or self.v is None:
            self.m, self.v = torch.zeros_like(param), torch.zeros_like(param)
        if self.weight_decay:
            grad = grad.add(param, alpha=self.weight_decay)
        b1, b2 = self.betas
        self.t += 1
        self.m.lerp_(grad, 1 - b1)
        self.v.mul_(b2).addcmul_(grad, grad.conj(), value=1 - b2)
        bias1 = 1 - b1**self.t
        bias2_sqrt = (1 - b2**self.t) ** 0.5
        denom = (self.v.sqrt() / bias2_sqrt).add_(self.eps)
        param.addcdiv_(self.m, denom, value=-lr / bias1)

    def state_dict(self) -> dict[str, Any]:
        return {"t": self.t, "m": _clone(self.m), "v": _clone(self.v)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.t = state["t"]
        self.m, self.v = _clone(state["m"]), _clone(state["v"])


OPTIMIZERS: dict[str, type] = {"sgd": SGD, "adam": Adam}


@dataclass(frozen=True)
class OptimSpec:
    """A picklable recipe for a shard optimiser: ``OptimSpec("sgd", {"momentum": 0.9})``."""

    name: str = "sgd"
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.name not in OPTIMIZERS:
            raise ValueError(f"optimizer name={self.name!r} should be one of {sorted(OPTIMIZERS)}")

    def build(self) -> SGD | Adam:
        return OPTIMIZERS[self.name](**self.kwargs)
