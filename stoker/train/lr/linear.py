"""Linear scaling with gradual warm-up (Goyal et al. 2017, "Accurate, Large Minibatch SGD").

Batch xk → LR xk; the LR starts at ``base_lr`` and rises linearly to ``k·base_lr`` over
``warmup_steps`` updates, because the large LR diverges early in training when weights change fast.
Used for SGD with momentum. Called once per update by the trainer (stoker.train.ps.worker).
"""

from __future__ import annotations

from stoker.train.lr.base import LRInput, warmup


def linear(x: LRInput) -> float:
    """Learning rate at ``x.step``: ``base_lr · batch/base_batch`` after warm-up."""
    return warmup(x, x.base_lr * x.scale)
