"""Steps (1)-(4) end to end on ``load_digits``: parameter server, swap-sized batch, scaled LR, train.

Shared by ``stoker train ps`` and ``stoker bench ps`` so the command and the benchmark measure
the same program.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any

from stoker.train import digits
from stoker.train.batch_search import BatchFit, find_max_batch
from stoker.train.ps.feed import TensorFeed
from stoker.train.ps.optim import OptimSpec
from stoker.train.ps.server import ParameterServer
from stoker.train.ps.worker import LRPlan, TrainSpec


@dataclass(frozen=True)
class Recipe:
    """One run's settings.

    Attributes:
        base_batch: Per-worker minibatch the base LR was tuned for (samples).
        base_lr: LR tuned for ``base_batch x workers`` samples per update.
        memory_budget_bytes: One worker's device memory (bytes); None sizes the device so that
            ``base_batch`` is exactly the largest batch that fits without swapping.
        swap: Search the batch with activation swapping on (and train with it).
        batch: Train with this per-worker batch instead of searching (the baseline run).
        lr_rule: ``linear`` or ``sqrt``.
        warmup_epochs: Epochs of gradual warm-up (Goyal et al. use 5 of 90).
        optimizer: Shard optimiser recipe.
    """

    workers: int = 2
    shards: int = 2
    consistency: str = "bsp"
    base_batch: int = 32
    base_lr: float = 0.03
    memory_budget_bytes: int | None = None
    swap: bool = True
    batch: int | None = None
    lr_rule: str = "linear"
    warmup_epochs: float = 5.0
    epochs: int = 30
    seed: int = 0
    backend: str = "local"
    optimizer: OptimSpec = field(default_factory=lambda: OptimSpec("sgd", {"momentum": 0.9}))


@dataclass(frozen=True)
class Plan:
    """Steps (2) and (3): the batch the search chose and the LR scaled to it."""

    batch: int
    global_batch: int
    rounds_per_epoch: int
    lr: LRPlan
    fit: BatchFit


@dataclass(frozen=True)
class Outcome:
    """Step (4): what training reached."""

    plan: Plan
    accuracy: float
    stats: list[dict[str, Any]]


def budget_for(fit_probe: BatchFit, batch: int) -> int:
    """Device bytes in which ``batch`` is the largest batch that fits without swapping."""
    per = fit_probe.saved_per_sample + fit_probe.largest_per_sample
    return int(fit_probe.fixed_bytes + math.ceil((batch + 0.5) * per))


def plan(r: Recipe) -> Plan:
    """Searches the largest batch that fits and scales the LR to it."""
    xtr = digits.load()[0]
    model = digits.make_model(r.seed)
    budget = r.memory_budget_bytes
    if budget is None:
        budget = budget_for(find_max_batch(model, xtr[:1], 2**40), r.base_batch)
    fit = find_max_batch(model, xtr[:1], budget, swap=r.swap)
    # More samples per worker than one round can take would leave epochs with no round at all.
    batch = r.batch or min(fit.batch, len(xtr) // r.workers)
    rounds = len(xtr) // (batch * r.workers)
    warmup = round(r.warmup_epochs * rounds) if batch != r.base_batch else 0
    lr = LRPlan(r.lr_rule, r.base_lr, r.base_batch * r.workers, batch * r.workers, warmup_steps=warmup)
    return Plan(batch, batch * r.workers, rounds, lr, fit)


def train(r: Recipe, p: Plan) -> Outcome:
    """Trains on the parameter server with the plan and returns the held-out accuracy (%)."""
    xtr, ytr, xte, yte = digits.load()
    model = digits.make_model(r.seed)
    spec = TrainSpec(
        model_fn=functools.partial(digits.make_model, r.seed),
        feed=TensorFeed(xtr, ytr, p.batch, seed=r.seed),
        epochs=r.epochs,
        lr=p.lr,
        swap=r.swap,
    )
    with ParameterServer(model, r.shards, r.optimizer, r.consistency, r.workers, backend=r.backend) as ps:
        stats = ps.train(spec)
        model.load_state_dict(ps.model_state(), strict=False)
    return Outcome(p, digits.accuracy(model, xte, yte), stats)


def run(r: Recipe) -> Outcome:
    """Steps (2)-(4)."""
    return train(r, plan(r))
