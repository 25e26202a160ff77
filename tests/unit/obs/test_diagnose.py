"""The diagnosis is a pure function of stats records: right class, right stage, advice from rates."""

from __future__ import annotations

import math

import pytest

from stoker.obs.diagnose import diagnose, window
from tests.unit.obs.records import DECODE_BOUND, TRAINER_BOUND, TRANSPORT_BOUND, record


def test_decode_bound_names_data_and_the_decode_stage() -> None:
    d = diagnose(DECODE_BOUND)
    assert d.bottleneck == "data"
    assert d.dominant_stage == "decode"
    assert d.dominant_share == pytest.approx(16 / 19)
    assert d.wait_fraction == pytest.approx(0.9)
    # 3,200 samples in 19 busy worker-seconds: 168.4 samples/s per worker; demand 3,200 samples/s.
    assert d.worker_samples_per_s == pytest.approx(3200 / 19)
    assert d.demand_samples_per_s == pytest.approx(3200)
    actions = {a.action: a for a in d.advice}
    # 4 cores idle: 4 more local workers fit, the rest of the 4x cap (8 workers) is beyond this machine.
    local = actions["add_local_workers"]
    assert local.predicted_samples_per_s == pytest.approx(6 * 3200 / 19)
    assert local.predicted_speedup == pytest.approx(6 * 3200 / 19 / 320)
    assert actions["add_remote_workers"].predicted_samples_per_s == pytest.approx(8 * 3200 / 19)
    assert d.advice == sorted(d.advice, key=lambda a: -a.predicted_speedup)
    assert "data-bound" in str(d) and "decode" in str(d)


def test_decode_bound_on_a_full_machine_advises_remote_workers_only() -> None:
    d = diagnose({**DECODE_BOUND, "cpu_free": 0.3})
    assert {a.action for a in d.advice} >= {"add_remote_workers"}
    assert "add_local_workers" not in {a.action for a in d.advice}


def test_decode_bound_at_the_budget_advises_raising_it() -> None:
    d = diagnose({**DECODE_BOUND, "max_workers": 2})
    budget = next(a for a in d.advice if a.action == "raise_budget")
    assert "from 2 to 6" in budget.text


def test_moving_the_dominant_operator_is_predicted_from_its_cost() -> None:
    # One worker, busy 9.5 s for 1,600 samples (5.94 ms/sample), of which normalize is 4.06 ms;
    # the trainer computes 0.625 ms/sample: moving normalize to it leaves the worker 1.88 ms/sample.
    rec = record(
        samples=1600,
        wait_s=9.0,
        step_s=1.0,
        workers=1,
        worker_busy_s=9.5,
        worker_s=10.0,
        stage_s={"read": 0.5, "decode": 2.0, "normalize": 6.5},
        cpu_free=0.0,
    )
    d = diagnose(rec)
    assert d.dominant_stage == "normalize"
    move = next(a for a in d.advice if a.action == "move_operator")
    step, cost, op = 1.0 / 1600, 9.5 / 1600, 6.5 / 1600
    assert move.predicted_samples_per_s == pytest.approx(min(1 / (step + op), 1 / (cost - op)))
    assert move.predicted_speedup == pytest.approx(move.predicted_samples_per_s / 160)
    assert "'normalize'" in move.text


def test_moving_an_operator_that_would_slow_the_trainer_is_not_advised() -> None:
    assert "move_operator" not in {a.action for a in diagnose({**DECODE_BOUND, "cpu_free": 0.0}).advice}


def test_trainer_bound_says_nothing_on_the_data_side_helps() -> None:
    d = diagnose(TRAINER_BOUND)
    assert d.bottleneck == "trainer"
    assert all(a.predicted_speedup <= 1.0 for a in d.advice)
    assert "nothing on the data side" in str(d)


def test_trainer_bound_with_many_workers_says_fewer_would_do() -> None:
    d = diagnose({**TRAINER_BOUND, "workers": 8})
    fewer = next(a for a in d.advice if a.action == "fewer_workers")
    assert fewer.predicted_speedup == 1.0
    assert "1 worker(s) would keep up" in fewer.text


def test_transport_bound_when_idle_workers_leave_the_trainer_waiting() -> None:
    d = diagnose(TRANSPORT_BOUND)
    assert d.bottleneck == "transport"
    assert d.worker_utilisation == pytest.approx(0.15)
    actions = {a.action for a in d.advice}
    assert actions == {"larger_prefetch", "move_operator"}
    # Halving the 2.5 ms/sample wait: 1 / (0.625 ms + 1.25 ms) = 533 samples/s.
    assert d.advice[0].predicted_samples_per_s == pytest.approx(1 / (2 / 3200 + 8 / 3200 / 2))


def test_nothing_delivered_yet_is_unknown() -> None:
    d = diagnose(record(samples=0, wait_s=0.0, step_s=0.0, worker_busy_s=0.0, worker_s=0.0, stage_s={}))
    assert d.bottleneck == "unknown"
    assert d.advice == []


def test_in_process_loader_that_waits_is_told_to_use_workers() -> None:
    rec = {**DECODE_BOUND, "workers": 0, "worker_s": 0.0, "worker_busy_s": 9.0}
    d = diagnose(rec)
    assert d.bottleneck == "data"
    assert any(a.action == "add_local_workers" for a in d.advice)


def test_window_diagnoses_only_what_happened_since() -> None:
    start = record(
        samples=320, wait_s=5.0, step_s=0.1, worker_busy_s=0.5, worker_s=10.0, stage_s={"decode": 0.4}
    )  # a slow start-up: the trainer waited for workers to come up
    now = {**TRAINER_BOUND, "samples": 3520, "wait_s": 5.2, "step_s": 10.1, "stage_s": {"decode": 1.4}}
    assert diagnose(now).bottleneck != "trainer"  # since start, the start-up wait dominates
    w = window(now, start)
    assert w["samples"] == 3200 and w["wait_s"] == pytest.approx(0.2)
    assert diagnose(now, since=start).bottleneck == "trainer"


def test_an_idle_trainer_never_gets_unbounded_advice() -> None:
    d = diagnose({**DECODE_BOUND, "step_s": 0.0, "wait_s": 10.0})
    assert math.isinf(d.demand_samples_per_s)
    assert all(math.isfinite(a.predicted_samples_per_s) for a in d.advice)


def test_the_start_up_wait_is_not_a_bottleneck() -> None:
    # 9.8 s of waiting, 9.6 of them for the first batch while the workers started.
    rec = {**TRAINER_BOUND, "wait_s": 9.8, "first_wait_s": 9.6}
    assert diagnose(rec).bottleneck == "trainer"
    assert window(rec, None)["wait_s"] == pytest.approx(0.2)
    assert window(rec, {**rec, "items": 5})["wait_s"] == 0.0  # a later window keeps its own waits


def test_a_wait_the_workers_compute_explains_is_data_bound_even_if_they_idled() -> None:
    # Bursty trainer: the worker idled 70 % of the window (the trainer paused), and when the trainer
    # waited it was for the worker's 3.1 ms/sample of compute (2.8 ms/sample of wait): data-bound.
    rec = record(
        samples=3200, wait_s=9.0, step_s=1.0, workers=1, worker_busy_s=10.0, worker_s=33.0, stage_s={"decode": 9.5}
    )
    assert diagnose(rec).bottleneck == "data"
