from __future__ import annotations

from stoker.backends.placement import NodeRecord, PlacementRequest, get_policy


def test_spread_defers_to_ray():
    nodes = (NodeRecord("a", 0, 2), NodeRecord("b", 2, 2, is_trainer=True))
    got = get_policy("spread")(PlacementRequest(1, 1, nodes))
    assert got.spread and got.node_id is None and got.avoid == ()
