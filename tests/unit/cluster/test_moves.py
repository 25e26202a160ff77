"""Judging a change of a job's worker count from the throughput measured on both sides of it."""

from __future__ import annotations

import pytest

from stoker.cluster.moves import MoveRules, MoveTrack, judge, neighbours_change

RULES = MoveRules()


def test_a_move_that_raised_throughput_beyond_noise_mattered() -> None:
    assert judge([100.0, 102.0, 98.0], [180.0, 185.0, 178.0], 1.0, 2.0, RULES) is True


def test_a_move_within_noise_or_below_the_share_of_perfect_scaling_did_not_matter() -> None:
    assert judge([100.0, 102.0, 98.0], [101.0, 99.0, 103.0], 1.0, 2.0, RULES) is False
    # +5 % for a doubling is real (noise is 1 %) but under a tenth of what scaling would give.
    assert judge([100.0, 101.0, 99.0], [105.0, 104.0, 106.0], 1.0, 2.0, RULES) is False
    # Fewer samples/s with more workers (a trainer sharing its cores with its own decoders).
    assert judge([100.0, 101.0, 99.0], [80.0, 82.0, 79.0], 1.0, 2.0, RULES) is False


def test_noise_too_large_for_the_move_tells_nothing() -> None:
    assert judge([100.0, 140.0, 60.0], [150.0, 90.0, 120.0], 1.0, 2.0, RULES) is None
    # Half a worker more on eight: perfect scaling would add 6 %, within 5 % noise.
    assert judge([100.0, 105.0, 95.0], [100.0, 106.0, 96.0], 8.0, 8.5, RULES) is None


def track_through(workers_and_tput: list[tuple[float, float]]) -> list:
    t = MoveTrack(workers_and_tput[0][0], [workers_and_tput[0][1]])
    return [t.add(w, y, RULES) for w, y in workers_and_tput[1:]]


def test_one_report_at_the_old_count_is_judged_against_the_spread_at_the_new_one() -> None:
    assert judge([100.0], [101.0, 99.0, 100.0], 1.0, 2.0, RULES) is False
    assert judge([100.0], [190.0, 210.0, 200.0], 1.0, 2.0, RULES) is True
    assert judge([100.0], [200.0], 1.0, 2.0, RULES) is None  # no spread anywhere: noise unknown


def test_a_track_judges_a_move_up_after_its_first_report_and_three_more() -> None:
    out = track_through([(1, 100), (1, 101), (1, 99), (2, 40), (2, 100), (2, 98), (2, 101)])
    assert out[:-1] == [None] * 5  # the first report at 2 (a worker starting, 40) is left out
    v = out[-1]
    assert (v.lower, v.higher, v.mattered) == (1, 2, False)


def test_a_move_down_that_cost_nothing_is_judged_the_same_way() -> None:
    v = track_through([(3, 200), (3, 202), (3, 199), (2, 150), (2, 201), (2, 200), (2, 198)])[-1]
    assert (v.lower, v.higher, v.mattered) == (2, 3, False)
    v = track_through([(3, 300), (3, 302), (3, 299), (2, 150), (2, 201), (2, 200), (2, 198)])[-1]
    assert (v.lower, v.higher, v.mattered) == (2, 3, True)


def test_a_return_to_the_old_count_before_the_verdict_judges_nothing() -> None:
    out = track_through([(1, 100), (1, 101), (2, 100), (2, 100), (1, 99), (2, 100), (2, 100), (2, 100)])
    assert out == [None] * 7  # the second move to 2 starts over (its first report left out)


def test_counts_closer_than_half_a_worker_are_one_count() -> None:
    out = track_through([(4.0, 100), (4.3, 101), (3.8, 99), (4.2, 100), (4.1, 100)])
    assert out == [None] * 4


def test_the_track_round_trips_its_state() -> None:
    t = MoveTrack(1.0, [100.0, 101.0])
    t.add(2.0, 50.0, RULES)
    t.add(2.0, 99.0, RULES)
    again = MoveTrack.from_state(t.state_dict())
    assert again == t
    assert again.add(2.0, 100.0, RULES) == t.add(2.0, 100.0, RULES) is None


@pytest.mark.parametrize(
    "kw", [{"trial_reports": 1}, {"window": 1}, {"same": 0}, {"min_share": 2}, {"cooldown": 0}, {"z": -1}]
)
def test_bad_rules_are_named(kw: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(kw))):
        MoveRules(**kw)


def test_neighbours_change_sums_the_others_relative_change_across_the_move() -> None:
    k = [100.0, 100.0, 100.0, 70.0, 50.0, 50.0]  # 3 before, 1 transition, 2 after: -50 %
    m = [10.0, 10.0, 10.0, 10.0, 11.0, 11.0]  # +10 %
    assert neighbours_change([k, m], after=2, skip=1, before=3) == pytest.approx(-0.4)
    assert neighbours_change([[100.0, 50.0]], after=2, skip=1, before=3) == 0.0  # too short to tell
