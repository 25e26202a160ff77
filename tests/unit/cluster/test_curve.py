from __future__ import annotations

import pytest

from stoker.cluster.curve import Curve, OnlineCurve
from tests.common.state import run_test_save_load_state
from tests.unit.cluster.helpers import GRID, HUNGRY


def test_curve_interpolates_and_saturates() -> None:
    assert HUNGRY(0) == 0.0
    assert HUNGRY(0.5) == pytest.approx(0.185)
    assert HUNGRY(5.0) == pytest.approx(1.525)
    assert HUNGRY(100.0) == 2.4
    assert HUNGRY.saturation() == 9.0
    assert HUNGRY.utilisation(3.0) == pytest.approx(1.0 / 2.4)
    assert HUNGRY.next_breakpoint(4.0) == 6.0
    assert HUNGRY.next_breakpoint(12.0) is None


def test_curve_rejects_bad_grid() -> None:
    with pytest.raises(ValueError, match="strictly increasing"):
        Curve((2.0, 1.0), (1.0, 1.0))


def test_online_curve_learns_the_profile_from_noisy_measurements() -> None:
    import random

    rng = random.Random(0)
    learner = OnlineCurve(GRID, alpha=0.3)
    for _ in range(200):
        x = rng.choice(GRID)
        learner.observe(x, HUNGRY(x) * (1 + 0.05 * rng.gauss(0, 1)))
    learned = learner.curve()
    for x in GRID:
        assert learned(x) == pytest.approx(HUNGRY(x), rel=0.1)


def test_online_curve_is_optimistic_where_unmeasured_then_corrected() -> None:
    learner = OnlineCurve(GRID)
    assert learner.curve()(6.0) == 6.0  # nothing measured: assumed CPU-bound
    learner.observe(1.0, 0.37)
    assert learner.curve()(4.0) == pytest.approx(4 * 0.37)  # perfect scaling above the measurement
    learner.observe(12.0, 2.4)
    assert learner.curve()(9.0) <= 2.4  # never above a measurement further right
    learner.observe(4.0, 1.3)
    assert learner.curve()(4.0) == pytest.approx(1.3)


class _Driver:
    """Feeds an OnlineCurve a fixed measurement sequence; its position is part of its state."""

    def __init__(self) -> None:
        self.curve = OnlineCurve(GRID, alpha=0.5)
        self.step = 0

    def advance(self) -> tuple[float, ...]:
        x = GRID[(self.step * 3) % len(GRID)]
        self.curve.observe(x, HUNGRY(x) * (1 + 0.01 * (self.step % 5)))
        self.step += 1
        return self.curve.curve().ys

    def state_dict(self) -> dict:
        return {"curve": self.curve.state_dict(), "step": self.step}

    def load_state_dict(self, state: dict) -> None:
        self.curve.load_state_dict(state["curve"])
        self.step = state["step"]


def test_online_curve_round_trips_its_state() -> None:
    run_test_save_load_state(_Driver, lambda d: d.advance(), steps=12, checkpoints=[0, 5, 11])
