from __future__ import annotations

import pytest

from stoker.cluster.policies import CpuParams, synergy
from stoker.cluster.records import ClusterView, Node
from tests.unit.cluster.helpers import FLAT, HUNGRY, MODEST, job


def test_synergy_moves_cpus_from_insensitive_to_hungry_jobs_within_the_node() -> None:
    nodes = (Node("a", 12.0, 0, 4, "V100"), Node("b", 12.0, 0, 4, "V100"))
    jobs = (job("flat", curve=FLAT), job("hungry", curve=HUNGRY), job("alone", curve=HUNGRY))
    view = ClusterView(nodes, jobs, {"flat": "a", "hungry": "a", "alone": "b"})
    alloc = synergy.allocate(view, CpuParams())
    assert alloc["flat"] == {"a": pytest.approx(1.0)}  # 1 CPU gives it all it had at 3
    assert alloc["hungry"] == {"a": pytest.approx(9.0)}  # saturates at 9 CPUs per GPU
    assert set(alloc["alone"]) == {"b"}  # never borrows from another node
    assert alloc["alone"]["b"] == pytest.approx(9.0)


def test_synergy_never_goes_below_the_proportional_throughput() -> None:
    nodes = (Node("a", 8.0, 0, 2, "V100"),)
    jobs = (job("m", curve=MODEST), job("h", curve=HUNGRY))
    alloc = synergy.allocate(ClusterView(nodes, jobs, {"m": "a", "h": "a"}), CpuParams())
    assert MODEST(alloc["m"]["a"]) >= MODEST(4.0) - 1e-9
    assert HUNGRY(alloc["h"]["a"]) >= HUNGRY(4.0) - 1e-9
