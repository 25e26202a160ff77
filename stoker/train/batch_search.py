"""The largest minibatch a worker's device holds, with and without activation swapping.

Measured, not guessed: a forward pass at two batch sizes under :class:`SwapToHost` accounting
gives the bytes each sample adds (every saved activation, and the largest single one) and the
batch-independent part. The device then must hold

* without swap: ``fixed + b · (saved + largest)`` — every activation until backward uses it,
  plus the gradient of the activation in flight;
* with swap: ``fixed + b · (window + 1) · largest`` — only the activations being used or
  prefetched (``window``, default 2: the current one and the next) plus that gradient,

where ``fixed`` is parameters and gradients (``bytes_per_param`` each) plus optimiser slots kept
on the device (0 with a parameter server: its optimiser state lives on the shards) plus the
batch-independent saved bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from stoker.train.swap import SwapToHost


@dataclass(frozen=True)
class BatchFit:
    """Memory measurement and the resulting largest batches.

    Attributes:
        budget_bytes: Device memory budget (bytes).
        fixed_bytes: Batch-independent device memory (bytes).
        saved_per_sample: Saved-activation bytes one sample adds (bytes/sample).
        largest_per_sample: Bytes one sample adds to the largest saved activation (bytes/sample).
        max_batch_no_swap: Largest batch that fits without swapping.
        max_batch_swap: Largest batch that fits with swapping.
        swap: Which of the two ``batch`` reports.
    """

    budget_bytes: int
    fixed_bytes: int
    saved_per_sample: float
    largest_per_sample: float
    max_batch_no_swap: int
    max_batch_swap: int
    swap: bool

    @property
    def batch(self) -> int:
        """The largest batch under the chosen mode."""
        return self.max_batch_swap if self.swap else self.max_batch_no_swap

    @property
    def swap_batch_ratio(self) -> float:
        """``max_batch_swap / max_batch_no_swap`` (inf when nothing fits without swap)."""
        if self.max_batch_no_swap == 0:
            return float("inf")
        return self.max_batch_swap / self.max_batch_no_swap


def _saved(model: torch.nn.Module, example: torch.Tensor, batch: int) -> list[int]:
    x = example[:1].expand(batch, *example.shape[1:]).contiguous()
    with torch.enable_grad(), SwapToHost(swap=False) as acct:
        out = model(x)
    del out  # frees the graph; only the accounting is wanted
    return acct.stats.saved


def measure(model: torch.nn.Module, example: torch.Tensor, b1: int = 2, b2: int = 6) -> tuple[float, float, float]:
    """Saved bytes per sample, largest saved bytes per sample, and batch-independent saved bytes.

    Args:
        model: The model (in the mode it trains in).
        example: An input batch (at least one sample); its first sample is repeated.
        b1: Smaller probe batch.
        b2: Larger probe batch.
    """
    s1, s2 = _saved(model, example, b1), _saved(model, example, b2)
    if len(s1) != len(s2):
        raise RuntimeError(
            f"the model saved {len(s1)} tensors at batch {b1} but {len(s2)} at batch {b2}; "
            "find_max_batch needs a forward pass whose structure does not depend on the batch size"
        )
    per = [(c - a) / (b2 - b1) for a, c in zip(s1, s2)]
    intercept = sum(s1) - b1 * sum(per)
    return sum(per), max(per, default=0.0), max(intercept, 0.0)


def find_max_batch(
    model: torch.nn.Module,
    example: torch.Tensor,
    memory_budget_bytes: int,
    swap: bool = True,
    window: int = 2,
    optimizer_slots: int = 0,
    host_budget_bytes: int | None = None,
    probe: Callable[..., tuple[float, float, float]] = measure,
) -> BatchFit:
    """The largest minibatch that fits ``memory_budget_bytes``, with and without swapping.

    Args:
        model: The model.
        example: An input batch (at least one sample).
        memory_budget_bytes: Device memory for one worker (bytes).
        swap: Which mode :attr:`BatchFit.batch` reports.
        window: Saved activations resident at once while swapping.
        optimizer_slots: Parameter-sized optimiser buffers on the device (0 with a parameter server).
        host_budget_bytes: Host memory for swapped activations (bytes); None for no limit.
        probe: Measures ``(saved_per_sample, largest_per_sample, intercept)``; the default runs the model.
    """
    if memory_budget_bytes <= 0:
        raise ValueError(f"{memory_budget_bytes=} should be positive")
    if window < 1:
        raise ValueError(f"{window=} should be >= 1")
    saved, largest, intercept = probe(model, example)
    params = [p for p in model.parameters() if p.requires_grad]
    param_bytes = sum(p.numel() * p.element_size() for p in params)
    fixed = int(param_bytes * (2 + optimizer_slots) + intercept)
    room = memory_budget_bytes - fixed
    if room <= 0:
        raise ValueError(
            f"{memory_budget_bytes=} does not hold the model's {fixed} fixed bytes "
            "(parameters, gradients, optimiser slots); raise the budget or shard the model"
        )
    no_swap = int(room // (saved + largest)) if saved > 0 else 0
    with_swap = int(room // ((window + 1) * largest)) if largest > 0 else 0
    if host_budget_bytes is not None and saved > 0:
        with_swap = min(with_swap, int(host_budget_bytes // saved))
    with_swap = max(with_swap, no_swap)  # swapping never makes the batch smaller
    return BatchFit(memory_budget_bytes, fixed, saved, largest, no_swap, with_swap, swap)
