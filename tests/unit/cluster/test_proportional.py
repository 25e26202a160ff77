from __future__ import annotations

import pytest

from stoker.cluster.policies import CpuParams, proportional
from stoker.cluster.records import ClusterView, Node
from tests.unit.cluster.helpers import job


def test_proportional_splits_by_gpus_and_leaves_idle_gpus_share() -> None:
    nodes = (Node("a", 32.0, 0, 8, "V100"),)
    view = ClusterView(nodes, (job("x", gpus=2.0), job("y", gpus=0.5)), {"x": "a", "y": "a"})
    alloc = proportional.allocate(view, CpuParams())
    assert alloc["x"]["a"] == pytest.approx(8.0)
    assert alloc["y"]["a"] == pytest.approx(2.0)
