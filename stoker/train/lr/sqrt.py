"""Square-root scaling (Krizhevsky 2014; Hoffer et al. 2017), the usual rule for Adam-like optimisers.

Batch xk → LR x√k keeps the variance of the update constant; with gradual warm-up from ``base_lr``.
Called once per update by the trainer (stoker.train.ps.worker).
"""

from __future__ import annotations

import math

from stoker.train.lr.base import LRInput, warmup


def sqrt(x: LRInput) -> float:
    """Learning rate at ``x.step``: ``base_lr · √(batch/base_batch)`` after warm-up."""
    return warmup(x, x.base_lr * math.sqrt(x.scale))
