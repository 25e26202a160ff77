"""The plain record every learning-rate rule reads."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LRInput:
    """What a learning-rate rule needs to know, as plain numbers.

    Attributes:
        base_lr: Learning rate tuned for ``base_batch``.
        base_batch: Global minibatch (samples per update) that ``base_lr`` was tuned for.
        batch: Global minibatch (samples per update) the run uses now.
        step: Updates done so far (0-based).
        warmup_steps: Updates over which the rule ramps from ``base_lr`` to its target
            (Goyal et al. use 5 epochs); 0 disables warm-up.
        grad_var: Gradient variance at ``base_batch`` (trace, squared gradient units); AdaScale only.
        grad_sqr: Squared norm of the true gradient; AdaScale only.
    """

    base_lr: float
    base_batch: int
    batch: int
    step: int = 0
    warmup_steps: int = 0
    grad_var: float | None = None
    grad_sqr: float | None = None

    def __post_init__(self) -> None:
        if self.base_batch <= 0 or self.batch <= 0:
            raise ValueError(f"{self.base_batch=} and {self.batch=} should be positive sample counts")
        if self.base_lr <= 0:
            raise ValueError(f"{self.base_lr=} should be positive")
        if self.step < 0 or self.warmup_steps < 0:
            raise ValueError(f"{self.step=} and {self.warmup_steps=} should be >= 0")

    @property
    def scale(self) -> float:
        """Batch ratio ``batch / base_batch`` (the k of Goyal et al.)."""
        return self.batch / self.base_batch


def warmup(x: LRInput, target_lr: float) -> float:
    """Ramps linearly from ``base_lr`` at step 0 to ``target_lr`` at ``warmup_steps`` (gradual warm-up)."""
    if x.warmup_steps == 0 or x.step >= x.warmup_steps:
        return target_lr
    return x.base_lr + (target_lr - x.base_lr) * x.step / x.warmup_steps
