"""The records an autoscaling policy reads and returns."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class ScalingSignal:
    """Trainer-side measurements over the last window, and the pool's situation.

    Attributes:
        workers: Workers running now.
        min_workers: Lower bound.
        max_workers: Upper bound (cores, or a budget the cluster controller set).
        window_s: Wall seconds the window covers.
        wait_s: Seconds the trainer spent blocked in ``next()`` in the window.
        step_s: Seconds the trainer spent between ``next()`` calls (its own work).
        items: Items (batches, or samples when unbatched) delivered in the window.
        worker_busy_s: Seconds workers spent producing, summed over workers.
        worker_items: Items workers produced in the window.
        queue_depth: Items ready in the trainer's buffer at the end of the window.
        cpu_free: CPUs idle over the window (None: unknown).
        since_change_s: Seconds since the worker count last changed.
        last_direction: +1 if the last change was up, -1 if down, 0 if none yet.
        calm_windows: Consecutive previous windows in which the policy wanted to scale down.
        up_demand: Demand (items/s) when starving last forced a scale-up (None: never).
        since_up_s: Seconds since that scale-up.
        up_cap: ``max_workers`` when that scale-up happened (None: never). While the cap is unchanged
            and the pool sits at it, the refuted scale-down stays refuted (no flapping under a budget).
    """

    workers: int
    min_workers: int
    max_workers: int
    window_s: float
    wait_s: float
    step_s: float
    items: int
    worker_busy_s: float
    worker_items: int
    queue_depth: int
    cpu_free: float | None
    since_change_s: float
    last_direction: int
    calm_windows: int
    up_demand: float | None = None
    since_up_s: float = math.inf
    up_cap: int | None = None

    @property
    def wait_fraction(self) -> float:
        """Share of the trainer's time spent waiting for data."""
        total = self.wait_s + self.step_s
        return self.wait_s / total if total > 0 else 0.0


@dataclass(frozen=True)
class ScalingDecision:
    """What the policy wants.

    Attributes:
        target: Worker count to run.
        reason: One line for logs and ``stats()``.
        wants_down: The policy would scale down if patience allowed (feeds ``calm_windows``).
        demand: The demand (items/s) that justified a scale-up, for the caller to remember
            (``math.inf``: the trainer only waited).
        cap: ``max_workers`` the decision was taken under, for the caller to remember with ``demand``.
    """

    target: int
    reason: str
    wants_down: bool = False
    demand: float | None = None
    cap: int | None = None
