from __future__ import annotations

from stoker.cluster.policies import CpuParams, static
from stoker.cluster.records import ClusterView, Node
from tests.unit.cluster.helpers import job


def test_static_gives_the_request_capped_at_the_node() -> None:
    nodes = (Node("a", 8.0, 0, 2, "V100"),)
    view = ClusterView(nodes, (job("x", cpus=3.0), job("y", cpus=20.0)), {"x": "a", "y": "a"})
    assert static.allocate(view, CpuParams()) == {"x": {"a": 3.0}, "y": {"a": 8.0}}
