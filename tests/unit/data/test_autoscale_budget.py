"""The throughput policy under a cluster budget: replayed on records, the Loader's loop without processes.

The plant is the one that flapped live (issue #25: 29 rises in one run of ``stoker bench cluster_live``):
a trainer wanting 100 items/s, workers that really make 60 items/s each, but whose speed per busy second
*looks* twice that while they are fed (contention eases when they idle), so at the budget the policy
believes one worker fewer would do. Every seventh window nothing arrives (a Ray call stalls).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from stoker.data.autoscale import ScalingSignal
from stoker.data.autoscale.history import AutoscaleHistory
from stoker.data.autoscale.throughput import throughput_policy

WINDOW_S = 0.25
DEMAND = 100.0  # items/s the trainer takes when fed
PER_WORKER = 60.0  # items/s one worker really makes


def _signal(workers: int, budget: int, k: int, history: AutoscaleHistory, now: float) -> ScalingSignal:
    supply = workers * PER_WORKER
    rate = min(DEMAND, supply)
    fed = supply >= DEMAND
    stalled = k % 7 == 6
    items = 0 if stalled else rate * WINDOW_S
    step = items / DEMAND
    looks = 2 * PER_WORKER if fed else PER_WORKER  # measured speed per busy second
    busy = items / looks
    return ScalingSignal(
        workers=workers,
        min_workers=1,
        max_workers=budget,
        window_s=WINDOW_S,
        wait_s=WINDOW_S - step,
        step_s=step,
        items=int(items),
        worker_busy_s=busy,
        worker_items=int(items),
        queue_depth=0,
        cpu_free=4.0,
        **history.signal_fields(now),
    )


def _replay(budget_at: Callable[[float], int], seconds: float) -> list[tuple[float, int, int]]:
    """(time, budget, workers) per window, driving policy and history as the Loader's tick does."""
    history = AutoscaleHistory(last_change=0.0)
    workers, out = 1, []
    for k in range(int(seconds / WINDOW_S)):
        now = k * WINDOW_S
        budget = budget_at(now)
        if workers > budget:  # Loader.set_budget: the cap lowers the count at once
            history.on_target(workers, budget, now)
            workers = budget
        decision = throughput_policy(_signal(workers, budget, k, history, now))
        history.on_decision(decision, workers, now)
        history.on_target(workers, decision.target, now)
        workers = decision.target
        out.append((now, budget, workers))
    return out


def _changes(trace: list[tuple[float, int, int]]) -> int:
    return sum(1 for a, b in itertools.pairwise(trace) if a[2] != b[2])


def test_no_flapping_between_the_budget_and_one_below_it() -> None:
    trace = _replay(lambda t: 2, seconds=600.0)
    # Start-up: 1 -> 2 (a ramp, not a regret), one probe down to 1 that starving refutes, back to 2...
    assert [x[2] for x in trace[:12]].count(1) <= 2 and trace[11][2] == 2
    # ...then held for ten minutes, long past the time-limited hold (REGRET_S).
    assert _changes(trace[11:]) == 0


def test_a_budget_change_moves_the_worker_count_at_most_once() -> None:
    # budget 2, then 1 (forced down), then 2 again (the trainer starves: up once), then 3 (fed at 2).
    def budget(t: float) -> int:
        return 2 if t < 150 else 1 if t < 300 else 2 if t < 450 else 3

    trace = _replay(budget, seconds=600.0)
    for lo, hi in ((3, 150), (150, 300), (300, 450), (450, 600)):  # after the start-up probe (see above)
        period = [x for x in trace if lo <= x[0] < hi]
        assert _changes(period) <= 1, (lo, [x[2] for x in period])
    assert [trace[i][2] for i in (599, 1199, 1799, 2399)] == [2, 1, 2, 2]


def test_the_hold_ends_when_demand_drops() -> None:
    history = AutoscaleHistory(last_change=0.0, last_direction=1, up_demand=100.0, up_at=0.0, up_cap=2)
    s = ScalingSignal(**{**_signal(2, 2, 0, history, now=600.0).__dict__, "calm_windows": 10})
    held = throughput_policy(s)  # ten minutes on, at the same cap and the demand that refuted the scale-down
    assert held.target == 2 and held.reason.startswith("holding")
    low = ScalingSignal(**{**s.__dict__, "step_s": s.step_s * 3})  # demand a third of that
    assert throughput_policy(low).target == 1
