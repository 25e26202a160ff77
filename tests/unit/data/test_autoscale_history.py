"""The autoscaler's memory between decisions, apart from the Loader."""

from __future__ import annotations

from stoker.data.autoscale.base import ScalingDecision
from stoker.data.autoscale.history import AutoscaleHistory


def test_history_remembers_direction_calm_windows_and_refuted_scale_downs() -> None:
    h = AutoscaleHistory(last_change=0.0)
    h.on_target(4, 3, now=10.0)  # scaled down
    assert h.signal_fields(12.0)["since_change_s"] == 2.0 and h.last_direction == -1
    h.on_decision(ScalingDecision(target=3, reason="hold", wants_down=True), current=3, now=13.0)
    h.on_decision(ScalingDecision(target=3, reason="hold", wants_down=True), current=3, now=14.0)
    assert h.signal_fields(14.0)["calm_windows"] == 2
    # starving right after the scale-down: the demand that refuted it is remembered
    h.on_decision(ScalingDecision(target=4, reason="starving", demand=120.0), current=3, now=15.0)
    fields = h.signal_fields(16.0)
    assert fields["up_demand"] == 120.0 and fields["since_up_s"] == 1.0 and fields["calm_windows"] == 0
    h.on_target(3, 4, now=15.0)
    assert h.last_direction == 1 and h.calm == 0
