from __future__ import annotations

import pytest

from stoker.graph.ir import Graph, Node


def test_graph_edges_and_closure() -> None:
    g = Graph()
    g.add(Node("a", "input", "a"))
    g.add(Node("b", "call_function", "b", ("a",)))
    g.add(Node("c", "call_function", "c", ("a", "b")))
    assert g.users("a") == ["b", "c"]
    assert g.ancestors(["c"]) == {"a", "b"}
    assert g.descendants(["a"]) == {"b", "c"}
    assert len(g) == 3 and "b" in g and g["b"].is_model


def test_graph_rejects_bad_nodes() -> None:
    g = Graph()
    g.add(Node("a", "input", "a"))
    with pytest.raises(ValueError, match="duplicate"):
        g.add(Node("a", "input", "a"))
    with pytest.raises(ValueError, match=r"reads \['zz'\]"):
        g.add(Node("b", "call_function", "b", ("zz",)))
