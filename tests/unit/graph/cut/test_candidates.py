"""Valid cuts are exactly the down-closed sets of movable nodes; costs add up per crossing value."""

from __future__ import annotations

import pytest

from stoker.graph.analysis import Verdict
from stoker.graph.cut.candidates import enumerate_cuts, evaluate, find_sides
from stoker.graph.ir import Graph, Node
from stoker.graph.measure import Costs
from stoker.graph.rules import Finding


class FakeTarget:
    def __init__(self, target: str) -> None:
        self.target = target


def diamond() -> Graph:
    """batch -> x -> (a, b) -> c -> w(stateful) -> out."""
    g = Graph()
    g.add(Node("p0:source", "source", "src", stage="sample"))
    g.add(Node("p1:batch", "batch", "batch", ("p0:source",), "batch"))
    g.add(Node("x", "input", "batch[0]", ("p1:batch",)))
    for name, ins in (("a", ("x",)), ("b", ("x",)), ("c", ("a", "b")), ("w", ("c",)), ("d", ("w",))):
        g.add(Node(name, "call_function", name, ins, target=FakeTarget(name)))
    g.add(Node("output", "output", "output", ("d",)))
    return g


def verdicts(g: Graph, stateful: set[str]) -> dict[str, Verdict]:
    return {n.name: Verdict([Finding("params")] if n.name in stateful else []) for n in g}


def test_down_closed_sets_of_a_diamond() -> None:
    g = diamond()
    sides = find_sides(g, verdicts(g, {"w"}), {}, batched=True)
    assert sides.movable == ["a", "b", "c"]
    assert sides.blocked == {"w": "stateful", "d": "depends on state (w)"}
    cuts = set(enumerate_cuts(g, sides))
    assert cuts == {frozenset(), frozenset("a"), frozenset("b"), frozenset("ab"), frozenset("abc")}


def test_forced_pins_and_fallback_to_prefixes() -> None:
    g = diamond()
    sides = find_sides(g, verdicts(g, {"w"}), {"c": "data"}, batched=True)
    assert sides.forced == {"a", "b", "c"}
    assert enumerate_cuts(g, sides) == [frozenset("abc")]
    sides = find_sides(g, verdicts(g, {"w"}), {}, batched=True)
    cuts = enumerate_cuts(g, sides, limit=1)  # past the limit: topological prefixes only
    assert frozenset() in cuts and frozenset("abc") in cuts and frozenset("ab") in cuts


def test_unbatched_pipeline_moves_nothing() -> None:
    g = diamond()
    sides = find_sides(g, verdicts(g, {"w"}), {}, batched=False)
    assert sides.movable == [] and "no batch()" in sides.blocked["a"]


def test_costs_of_a_cut() -> None:
    g = diamond()
    sides = find_sides(g, verdicts(g, {"w"}), {}, batched=True)
    costs = Costs(
        seconds={"p0:source": 1.0, "p1:batch": 0.5, "a": 0.1, "b": 0.2, "c": 0.3, "w": 2.0, "d": 0.4},
        bytes={"x": 100, "a": 400, "b": 400, "c": 50},
    )
    nothing = evaluate(g, costs, sides, frozenset())
    assert nothing.crossing == ("x",) and nothing.bytes_per_sample == 100
    assert nothing.data_s == pytest.approx(1.5) and nothing.train_s == pytest.approx(3.0)
    half = evaluate(g, costs, sides, frozenset("a"))
    assert half.crossing == ("x", "a") and half.bytes_per_sample == 500  # x still feeds b in the trainer
    full = evaluate(g, costs, sides, frozenset("abc"))
    assert full.crossing == ("c",) and full.bytes_per_sample == 50 and full.train_s == pytest.approx(2.4)


def test_min_cut_finds_the_fewest_bytes_and_moves_more_on_ties() -> None:
    from stoker.graph.cut.mincut import min_bytes_cut

    g = diamond()
    sides = find_sides(g, verdicts(g, {"w"}), {}, batched=True)
    costs = Costs(bytes={"x": 100, "a": 400, "b": 400, "c": 50})
    assert min_bytes_cut(g, sides, costs) == frozenset("abc")
    costs = Costs(bytes={"x": 100, "a": 40, "b": 40, "c": 500})
    assert min_bytes_cut(g, sides, costs) == frozenset("ab")  # a + b = 80 < x = 100 < c
    costs = Costs(bytes={"x": 100, "a": 400, "b": 400, "c": 100})
    assert min_bytes_cut(g, sides, costs) == frozenset("abc")  # tie between x and c: move more
    sides = find_sides(g, verdicts(g, {"w"}), {"a": "train"}, batched=True)
    costs = Costs(bytes={"x": 100, "a": 1, "b": 1, "c": 1})
    assert min_bytes_cut(g, sides, costs) == frozenset()  # x crosses for a anyway; moving b adds b


def test_min_cut_agrees_with_enumeration() -> None:
    import itertools

    from stoker.graph.cut.mincut import min_bytes_cut

    g = diamond()
    sides = find_sides(g, verdicts(g, {"w"}), {}, batched=True)
    for xa, xb, xc in itertools.product((10, 60, 300), repeat=3):
        costs = Costs(bytes={"x": 100, "a": xa, "b": xb, "c": xc})
        best = min(evaluate(g, costs, sides, m).bytes_per_sample for m in enumerate_cuts(g, sides))
        assert evaluate(g, costs, sides, min_bytes_cut(g, sides, costs)).bytes_per_sample == best
