"""The autoscaler's memory between decisions, kept apart from the Loader that drives it.

Policies are pure functions of a :class:`~stoker.data.autoscale.base.ScalingSignal`; what they
need to remember across windows (when the count last changed and which way, how many calm
windows passed, the demand that refuted the last scale-down) lives here. The Loader tells the
history what happened and asks it for those fields; it never edits them itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from stoker.data.autoscale.base import ScalingDecision


@dataclass
class AutoscaleHistory:
    """What the last decisions were.

    Attributes:
        last_change: ``time.monotonic()`` of the last change of the worker count (seconds).
        last_direction: +1 after a scale-up, -1 after a scale-down, 0 before any change.
        calm: Consecutive windows in which the policy wanted to scale down but held.
        up_demand: Demand (items/s) that forced a scale-up right after a scale-down (None: never).
        up_at: When that happened (``time.monotonic()``, seconds).
        up_cap: The autoscaler's cap (``max_workers``, a cluster budget) at that moment (None: never).
    """

    last_change: float
    last_direction: int = 0
    calm: int = 0
    up_demand: float | None = None
    up_at: float = -math.inf
    up_cap: int | None = None

    def on_target(self, old: int, new: int, now: float) -> None:
        """The worker count was set from ``old`` to ``new`` (by hand or by the policy)."""
        if new != old:
            self.last_direction = 1 if new > old else -1
            self.last_change = now
            self.calm = 0

    def on_decision(self, decision: ScalingDecision, current: int, now: float) -> None:
        """Remembers a policy decision before it is applied to ``current`` workers."""
        self.calm = self.calm + 1 if decision.wants_down and decision.target == current else 0
        if decision.target > current and decision.demand is not None and self.last_direction < 0:
            # Starving right after a scale-down refutes that scale-down: remember the demand so
            # the policy does not try the same count again soon (start-up ramps are not regrets).
            self.up_demand, self.up_at, self.up_cap = decision.demand, now, decision.cap

    def signal_fields(self, now: float) -> dict[str, Any]:
        """The :class:`ScalingSignal` fields that come from memory."""
        return {
            "since_change_s": now - self.last_change,
            "last_direction": self.last_direction,
            "calm_windows": self.calm,
            "up_demand": self.up_demand,
            "since_up_s": now - self.up_at,
            "up_cap": self.up_cap,
        }
