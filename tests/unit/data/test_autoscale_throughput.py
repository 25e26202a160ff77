"""The throughput policy in a closed loop with a simple model of trainer and workers (no processes)."""

import itertools
import math

from stoker.data.autoscale import ScalingSignal, get_policy
from stoker.data.autoscale.throughput import throughput_policy


def _signal(workers: int, demand: float, per_worker: float, cores: int = 8, **kw) -> ScalingSignal:
    """One 0.5 s window of a trainer wanting ``demand`` items/s and workers making ``per_worker`` each."""
    window = 0.5
    supply = workers * per_worker
    rate = min(demand, supply)
    items = rate * window
    step = items / demand
    base = dict(
        workers=workers,
        min_workers=1,
        max_workers=cores,
        window_s=window,
        wait_s=window - step,
        step_s=step,
        items=max(1, int(items)),
        worker_busy_s=workers * window * min(1.0, rate / supply),
        worker_items=max(1, int(items)),
        queue_depth=0,
        cpu_free=cores - workers,
        since_change_s=10.0,
        last_direction=0,
        calm_windows=0,
    )
    base.update(kw)
    return ScalingSignal(**base)


def _run(demand_of_t, per_worker: float, windows: int, cores: int = 8) -> list[int]:
    workers, since, calm, history = 1, 10.0, 0, []
    for t in range(windows):
        s = _signal(workers, demand_of_t(t), per_worker, cores, since_change_s=since, calm_windows=calm)
        d = throughput_policy(s)
        calm = calm + 1 if d.wants_down and d.target == workers else 0
        since = 0.0 if d.target != workers else since + 0.5
        workers = d.target
        history.append(workers)
    return history


def test_scales_up_quickly_to_what_demand_needs_and_stays() -> None:
    history = _run(lambda t: 100.0, per_worker=30.0, windows=40)
    needed = math.ceil(100 / 30)
    assert history[2] >= needed  # within two windows of starving
    assert set(history[5:]) <= {needed, needed + 1}  # at most one more than needed
    assert len(set(history[10:])) == 1  # settled: no oscillation


def test_scales_down_slowly_when_demand_drops_and_does_not_oscillate() -> None:
    history = _run(lambda t: 200.0 if t < 20 else 40.0, per_worker=30.0, windows=80)
    assert history[19] >= 7
    assert history[-1] == math.ceil(40 * 1.15 / 30)
    changes = sum(1 for a, b in itertools.pairwise(history) if a != b)
    ups_after_drop = sum(1 for a, b in itertools.pairwise(history) if b > a)
    assert ups_after_drop == 0 and changes <= 7


def test_never_adds_workers_without_free_cpus_or_beyond_max() -> None:
    s = _signal(2, demand=1000.0, per_worker=10.0, cores=2, cpu_free=0.1)
    assert throughput_policy(s).target == 2
    s = _signal(4, demand=1000.0, per_worker=10.0, cores=4)
    assert throughput_policy(s).target == 4


def test_policies_are_found_by_name() -> None:
    assert get_policy("throughput") is throughput_policy


def test_a_trainer_that_only_waits_asks_for_the_maximum() -> None:
    s = _signal(1, demand=100.0, per_worker=30.0, step_s=0.0, wait_s=0.5)
    assert throughput_policy(s).target == 8


def test_does_not_drop_back_below_a_count_that_starving_forced_at_the_same_demand() -> None:
    # Scaled up to 2 at demand 100 items/s 10 s ago; the model now thinks 1 would do.
    s = _signal(2, demand=100.0, per_worker=150.0, calm_windows=10, up_demand=100.0, since_up_s=10.0)
    assert throughput_policy(s).target == 2
    # ...but once demand has clearly fallen, or long after, it may.
    s = _signal(2, demand=50.0, per_worker=150.0, calm_windows=10, up_demand=100.0, since_up_s=10.0)
    assert throughput_policy(s).target == 1
    s = _signal(2, demand=100.0, per_worker=150.0, calm_windows=10, up_demand=100.0, since_up_s=120.0)
    assert throughput_policy(s).target == 1
