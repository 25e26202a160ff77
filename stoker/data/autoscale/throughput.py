"""Throughput matching: run as many workers as the trainer's demand needs, plus headroom.

Called by the Loader every window with trainer-side measurements. Demand is what the trainer
would consume if it never waited (items / its own step time); supply per worker is what a
worker produces per busy second. Scale up at once (to the computed need) while the trainer
starves and a CPU is free; scale down one worker at a time, only after several calm windows and
a cool-down, so it settles instead of oscillating.

Per-worker speed depends on contention (a CPU-bound trainer slows its workers down), so the
model can believe N-1 workers suffice when they do not. When starving forces a scale-up right
after a scale-down, the caller passes the demand of that moment (``up_demand``), and the policy
does not scale back down for ``REGRET_S`` unless demand has since dropped well below it; while the cap
(``max_workers``, the cluster controller's budget) stays at least what it was then, the hold lasts as
long as the demand does: a job the budget lets run ``b`` workers, whose trainer starved at ``b - 1``,
stays at ``b`` instead of flapping between the two (each rise is a worker start, a Ray actor on a
cluster). A budget change thus moves the worker count once, not back and forth.
"""

from __future__ import annotations

import math

from stoker.data.autoscale.base import ScalingDecision, ScalingSignal

STARVING = 0.03  # wait fraction above which the trainer counts as starved
HEADROOM = 0.15  # supply margin over demand, so noise does not starve the trainer
DOWN_PATIENCE = 4  # calm windows before removing a worker
COOLDOWN_S = 2.0  # after a change, seconds before scaling down again
MIN_CPU_FOR_UP = 0.5  # idle CPUs needed to add a worker
REGRET_S = 60.0  # after starving forced a scale-up, hold that count this long...
DEMAND_DROP = 0.7  # ...unless demand falls below this share of what it was then


def throughput_policy(s: ScalingSignal) -> ScalingDecision:
    """Target worker count for the next window; pure, see the module docstring."""
    lo, hi = s.min_workers, max(s.min_workers, s.max_workers)
    clamp = min(max(s.workers, lo), hi)
    if clamp != s.workers:
        return ScalingDecision(clamp, f"bounds [{lo}, {hi}]")
    if s.items == 0 or s.worker_items == 0 or s.worker_busy_s <= 0:
        # Only at start-up (no change yet): later, a window in which nothing arrived is a stalled call
        # (a crowded machine stretches Ray's latency), not news about demand; on a budget it was a flap.
        cpu = s.cpu_free is None or s.cpu_free >= MIN_CPU_FOR_UP
        if s.last_direction == 0 and s.wait_fraction > STARVING and s.workers < hi and cpu:
            # The trainer only waited: its demand is unbounded as far as this window tells.
            return ScalingDecision(s.workers + 1, "trainer waits and nothing arrived yet", demand=math.inf, cap=hi)
        return ScalingDecision(s.workers, "no measurements yet")
    per_worker = s.worker_items / s.worker_busy_s  # items/s one busy worker makes
    if s.step_s > 0:
        demand = s.items / s.step_s  # items/s an unblocked trainer would take
        needed = min(hi, max(lo, math.ceil(demand * (1 + HEADROOM) / per_worker)))
    else:  # the trainer did nothing but wait: it could take anything we make
        demand = math.inf
        needed = hi
    if s.wait_fraction > STARVING:
        if needed > s.workers and (s.cpu_free is None or s.cpu_free >= MIN_CPU_FOR_UP):
            # Add what demand says is missing, but never more CPUs than are idle.
            room = s.workers + (math.floor(s.cpu_free + 0.5) if s.cpu_free is not None else needed)
            target = max(s.workers + 1, min(needed, room))
            return ScalingDecision(
                min(target, hi), f"starved {s.wait_fraction:.0%}: need {needed}", demand=demand, cap=hi
            )
        return ScalingDecision(s.workers, f"starved {s.wait_fraction:.0%} but no CPU free / at max {hi}")
    if needed < s.workers:
        if _refuted(s, demand, hi):
            return ScalingDecision(s.workers, f"holding {s.workers}: starving forced it {s.since_up_s:.0f} s ago")
        if s.calm_windows + 1 >= DOWN_PATIENCE and s.since_change_s >= COOLDOWN_S:
            return ScalingDecision(s.workers - 1, f"idle capacity: need {needed}", wants_down=True)
        return ScalingDecision(s.workers, f"calm, would shrink to {needed}", wants_down=True)
    return ScalingDecision(s.workers, f"fed: need {needed}")


def _refuted(s: ScalingSignal, demand: float, hi: int) -> bool:
    """Whether starving refuted a scale-down at about this demand, recently or under this same cap."""
    if s.up_demand is None:
        return False
    if math.isinf(s.up_demand):  # only waiting then: no demand to compare with, hold for the time only
        return s.since_up_s < REGRET_S
    if demand <= DEMAND_DROP * s.up_demand:
        return False
    # Under a cap no lower than the one starving struck under, the refuted count stays refuted: raising
    # the cap (a bigger budget) is no news about this job's demand, and re-probing costs a starve.
    return s.since_up_s < REGRET_S or (s.up_cap is not None and s.workers <= s.up_cap <= hi)
