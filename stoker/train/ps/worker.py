"""Trainer processes: pull parameters, compute a gradient on the next minibatch, push it.

A worker's clock counts its pushes. Before step ``c`` it pulls with clock ``c``; the shards
answer once the consistency model allows, so the same loop runs BSP, SSP and ASP.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import cloudpickle
import torch
import torch.nn.functional as F

from stoker.train.lr import LRInput, lr_rule
from stoker.train.lr.adascale import grad_stats
from stoker.train.swap import SwapToHost


@dataclass(frozen=True)
class LRPlan:
    """How the learning rate follows the step (a rule from :mod:`stoker.train.lr`).

    Attributes:
        rule: Rule name (``linear``, ``sqrt``).
        base_lr: LR tuned for ``base_batch``.
        base_batch: Global batch (samples per update) of ``base_lr``.
        batch: Global batch (samples per update) of this run.
        warmup_steps: Updates of gradual warm-up.
    """

    rule: str = "linear"
    base_lr: float = 0.1
    base_batch: int = 32
    batch: int = 32
    warmup_steps: int = 0

    def __post_init__(self) -> None:
        lr_rule(self.rule)  # fails early, with the list of names, on a typo

    def at(self, step: int, grad_var: float | None = None, grad_sqr: float | None = None) -> float:
        """LR of update ``step`` (0-based); AdaScale also reads the gradient statistics."""
        x = LRInput(
            self.base_lr, self.base_batch, self.batch, step, self.warmup_steps, grad_var=grad_var, grad_sqr=grad_sqr
        )
        return lr_rule(self.rule)(x)


@dataclass
class TrainSpec:
    """What every worker runs (picklable: use module-level functions or ``functools.partial``).

    Attributes:
        model_fn: Builds the model (parameters are overwritten by the first pull).
        feed: ``feed(rank, num_workers, epoch)`` yields ``(inputs, targets)`` minibatches (e.g. a
            :class:`~stoker.train.ps.feed.TensorFeed`, which reads them from a stoker Loader);
            called for epochs 0, 1, ... in order; its ``close()``, if any, runs at the end.
        epochs: Passes over the data.
        lr: Learning-rate plan.
        loss_fn: ``loss_fn(outputs, targets)``, averaged over the minibatch.
        swap: Run forward under :class:`SwapToHost`.
        step_delay_s: Extra seconds per step for given ranks (a deliberately slow worker, for tests).
        max_steps: Stop after this many steps (None: all epochs).
    """

    model_fn: Callable[[], torch.nn.Module]
    feed: Callable[[int, int, int], Iterable[tuple[torch.Tensor, torch.Tensor]]]
    epochs: int = 1
    lr: LRPlan = field(default_factory=LRPlan)
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy
    swap: bool = False
    step_delay_s: dict[int, float] = field(default_factory=dict)
    max_steps: int | None = None


def train_loop(rank: int, num_workers: int, client: Any, spec: TrainSpec) -> dict[str, Any]:
    """One worker's training; returns its stats."""
    torch.manual_seed(rank)
    model = spec.model_fn()
    params = [p for p in model.parameters() if p.requires_grad]
    clock, staleness, losses, waits, last_lr = 0, 0, [], 0.0, 0.0
    delay = spec.step_delay_s.get(rank, 0.0)
    stats = GradStats()
    for epoch in range(spec.epochs):
        for x, y in spec.feed(rank, num_workers, epoch):
            if spec.max_steps is not None and clock >= spec.max_steps:
                break
            t0 = time.perf_counter()
            flat, slowest = client.pull(clock)
            waits += time.perf_counter() - t0
            staleness = max(staleness, clock - slowest)
            _load(params, flat)
            model.zero_grad(set_to_none=True)
            with SwapToHost(enabled=spec.swap):
                loss = spec.loss_fn(model(x), y)
            loss.backward()
            if delay:
                time.sleep(delay)
            last_lr = _lr(spec.lr, clock, stats, client, len(x))
            client.push(_flat_grad(params), clock + 1, last_lr)
            clock += 1
            losses.append(float(loss.detach()))
    close = getattr(spec.feed, "close", None)
    if callable(close):
        close()
    return {
        "rank": rank,
        "steps": clock,
        "losses": losses,
        "max_staleness": staleness,
        "last_lr": last_lr,
        "pull_wait_s": waits,
    }


@dataclass
class GradStats:
    """Exponential moving averages of AdaScale's gradient variance and squared norm.

    One round's estimate is noisy (adaptdl smooths it the same way); ``decay`` weights the past.
    """

    decay: float = 0.9
    var: float | None = None
    sqr: float | None = None

    def update(self, var: float, sqr: float) -> None:
        if self.var is None or self.sqr is None:
            self.var, self.sqr = var, sqr
        else:
            self.var = self.decay * self.var + (1 - self.decay) * var
            self.sqr = self.decay * self.sqr + (1 - self.decay) * sqr


def _lr(plan: LRPlan, step: int, stats: GradStats, client: Any, local_batch: int) -> float:
    if plan.rule != "adascale":
        return plan.at(step)
    sq = getattr(client, "sqnorms", None)
    if sq is None:
        return plan.base_lr  # no full round yet: gain 1
    stats.update(*grad_stats(sq[0], sq[1], local_batch, plan.base_batch))
    return plan.at(step, stats.var, stats.sqr)


def _flat_grad(params: list[torch.nn.Parameter]) -> torch.Tensor:
    # A parameter the loss does not reach has no gradient; it contributes zeros.
    return torch.cat([torch.zeros_like(p).reshape(-1) if p.grad is None else p.grad.reshape(-1) for p in params])


def _load(params: list[torch.nn.Parameter], flat: torch.Tensor) -> None:
    offset = 0
    with torch.no_grad():
        for p in params:
            n = p.numel()
            p.copy_(flat[offset : offset + n].view_as(p))
            offset += n


def worker_main(rank: int, num_workers: int, client: Any, spec_bytes: bytes, results: Any) -> None:
    """Entry point of a worker process; sends ``("ok", stats)`` or ``("error", traceback)``."""
    torch.set_num_threads(1)  # workers and shards share the machine's cores
    try:
        spec = cloudpickle.loads(spec_bytes)
        results.put((rank, "ok", train_loop(rank, num_workers, client, spec)))
    except BaseException:
        results.put((rank, "error", traceback.format_exc()))
        raise
