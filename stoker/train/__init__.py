"""Training: a sharded parameter server, activation swapping, batch-size search, LR scaling.

Names are resolved lazily (PEP 562) so ``import stoker.train`` imports neither torch nor Ray
and starts nothing.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "ParameterServer": "stoker.train.ps.server",
    "Consistency": "stoker.train.ps.consistency",
    "OptimSpec": "stoker.train.ps.optim",
    "TrainSpec": "stoker.train.ps.worker",
    "LRPlan": "stoker.train.ps.worker",
    "TensorFeed": "stoker.train.ps.feed",
    "SwapToHost": "stoker.train.swap",
    "find_max_batch": "stoker.train.batch_search",
    "BatchFit": "stoker.train.batch_search",
    "LRInput": "stoker.train.lr",
    "lr_rule": "stoker.train.lr",
    "LR_RULES": "stoker.train.lr",
    "profile": "stoker.train.profiling",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'stoker.train' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
