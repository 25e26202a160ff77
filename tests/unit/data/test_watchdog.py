"""Which busy workers made no progress for the Loader's timeout (no clocks: times are given)."""

from __future__ import annotations

from stoker.data.watchdog import ProgressWatch, head


def test_a_worker_is_overdue_once_after_holding_a_split_without_progress() -> None:
    w = ProgressWatch()
    running = {0: 5, 1: 7}
    w.assigned(0, now=0.0)
    w.assigned(1, now=0.0)
    w.progressed(1, now=2.5)  # worker 1 returned a split: its clock restarts
    assert w.overdue(3.0, now=3.5, running=running.get) == [(0, 5)]
    assert w.overdue(3.0, now=9.0, running=running.get) == [(1, 7)]
    assert w.overdue(3.0, now=99.0, running=running.get) == []  # each reported once
    assert w.gone(0) is True and w.gone(0) is False


def test_an_idle_worker_is_never_overdue() -> None:
    w = ProgressWatch()
    w.assigned(0, now=0.0)
    assert w.overdue(1.0, now=50.0, running=lambda worker: None) == []
    assert w.gone(0) is False


def test_head_shortens_long_sample_lists() -> None:
    assert head((1, 2, 3)) == "[1, 2, 3]"
    assert head(tuple(range(40))).endswith("15]...")
