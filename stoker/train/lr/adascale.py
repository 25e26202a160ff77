"""AdaScale gain (Johnson et al. 2020; as used by adaptdl's scaling rules).

The gain ``r = (var + sqr) / (var/S + sqr)`` with ``S = batch/base_batch``, ``var`` the gradient
variance at the base batch and ``sqr`` the squared norm of the true gradient, lies in ``[1, S]``:
close to ``S`` while gradient noise dominates (large batches help fully), close to 1 when it
does not. LR = ``base_lr · r``. Estimate ``var``/``sqr`` with :func:`grad_stats` from the
replicas' gradients of one update.
"""

from __future__ import annotations

from collections.abc import Sequence

from stoker.train.lr.base import LRInput


def gain(scale: float, grad_var: float, grad_sqr: float) -> float:
    """AdaScale gain for a batch ``scale`` times the base batch (1 when there is no signal yet)."""
    if scale < 1:
        raise ValueError(f"{scale=} should be >= 1: AdaScale scales up from the base batch")
    if grad_var < 0 or grad_sqr < 0:
        raise ValueError(f"{grad_var=} and {grad_sqr=} should be >= 0; clamp estimates before calling")
    if grad_var + grad_sqr == 0:
        return 1.0
    return (grad_var + grad_sqr) / (grad_var / scale + grad_sqr)


def adascale(x: LRInput) -> float:
    """Learning rate ``base_lr · gain``; needs ``x.grad_var`` and ``x.grad_sqr``."""
    if x.grad_var is None or x.grad_sqr is None:
        raise ValueError("the adascale rule needs grad_var and grad_sqr; estimate them with grad_stats()")
    return x.base_lr * gain(max(x.scale, 1.0), x.grad_var, x.grad_sqr)


def grad_stats(sqnorms: Sequence[float], mean_sqnorm: float, local_batch: int, base_batch: int) -> tuple[float, float]:
    """Unbiased gradient variance (at ``base_batch``) and squared true-gradient norm.

    With ``n`` replicas each averaging ``local_batch`` samples, ``E|g_i|² = sqr + σ²/b`` and
    ``E|mean g|² = sqr + σ²/(n·b)``, so the gap between the two gives ``σ²``.

    Args:
        sqnorms: ``|g_i|²`` of each replica's gradient (n ≥ 2 values).
        mean_sqnorm: ``|mean_i g_i|²``.
        local_batch: Samples behind each ``g_i``.
        base_batch: Batch at which the returned variance is expressed.

    Returns:
        ``(grad_var, grad_sqr)``, both clamped at 0 (single estimates are noisy).
    """
    n = len(sqnorms)
    if n < 2:
        raise ValueError(f"grad_stats needs gradients from >= 2 replicas, got {n}")
    local_mean = sum(sqnorms) / n
    var_local = max(local_mean - mean_sqnorm, 0.0) * n / (n - 1)
    sqr = max(local_mean - var_local, 0.0)
    return var_local * local_batch / base_batch, sqr
