"""The cut objectives are pure functions of plain Candidate records."""

from __future__ import annotations

import pytest

from stoker.graph.cut.base import Candidate, get_objective


def cand(moved: str, size: float, data_s: float, train_s: float) -> Candidate:
    return Candidate(frozenset(moved.split()) if moved else frozenset(), (), size, data_s, train_s)


def test_fewest_bytes_among_cuts_that_keep_up() -> None:
    choose = get_objective("fewest_bytes")
    small_but_slow = cand("a b", 100, data_s=10.0, train_s=1.0)  # 2 workers: 5 s > 1 s, data-bound
    medium = cand("a", 400, data_s=1.0, train_s=1.0)
    large = cand("", 1600, data_s=0.5, train_s=1.5)
    best, why = choose([small_but_slow, medium, large], 2)
    assert best is medium
    assert "keeps up" in why


def test_fewest_bytes_tie_moves_more() -> None:
    choose = get_objective("fewest_bytes")
    a = cand("x", 100, 0.1, 1.0)
    b = cand("x y", 100, 0.2, 0.9)
    assert choose([a, b], 1)[0] is b


def test_when_every_cut_is_data_bound_the_fastest_wins() -> None:
    choose = get_objective("fewest_bytes")
    fast = cand("", 4000, data_s=4.0, train_s=1.0)
    slow_small = cand("a", 1000, data_s=6.0, train_s=0.9)
    best, why = choose([slow_small, fast], 2)
    assert best is fast and "bottleneck for every cut" in why
    nearly_as_fast = cand("a", 1000, data_s=4.1, train_s=1.0)  # within 5%: fewer bytes wins
    assert choose([fast, nearly_as_fast], 2)[0] is nearly_as_fast


def test_all_stateless_and_nothing() -> None:
    cands = [cand("", 10, 1, 1), cand("a", 20, 1, 1), cand("a b", 5, 1, 1)]
    assert get_objective("all_stateless")(cands, 1)[0].moved == {"a", "b"}
    assert get_objective("nothing")(cands, 1)[0].moved == frozenset()


def test_unknown_objective_names_the_choices() -> None:
    with pytest.raises(ValueError, match="fewest_bytes"):
        get_objective("quickest")


def test_data_bound_and_step_time() -> None:
    c = cand("", 1, data_s=3.0, train_s=1.0)
    assert c.data_bound(2) and not c.data_bound(3)
    assert c.step_s(2) == 1.5 and c.step_s(6) == 1.0


def test_fastest_takes_the_shortest_step_then_fewest_bytes() -> None:
    choose = get_objective("fastest")
    trainer_bound = cand("", 100, data_s=1.0, train_s=5.0)
    offloaded = cand("a b", 400, data_s=4.0, train_s=2.0)  # 2 workers: step 2.0
    also_fast = cand("a", 300, data_s=3.0, train_s=2.05)  # within 5%, fewer bytes
    best, why = choose([trainer_bound, offloaded, also_fast], 2)
    assert best is also_fast and "fastest step" in why
