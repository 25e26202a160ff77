from __future__ import annotations

import pytest

from stoker.cluster.policies import CpuParams, elastic
from stoker.cluster.records import ClusterView, Node
from tests.unit.cluster.helpers import FLAT, HUNGRY, MODEST, job


def test_elastic_borrows_spare_cpus_on_other_nodes_at_a_remote_cost() -> None:
    nodes = (Node("g", 4.0, 0, 4, "V100"), Node("cpu", 32.0, 0, 0, ""))
    view = ClusterView(nodes, (job("h", curve=HUNGRY),), {"h": "g"})
    alloc = elastic.allocate(view, CpuParams(remote_cost=0.25))
    assert alloc["h"]["g"] == pytest.approx(4.0)  # all of its own node first
    # Saturation at 9 effective CPUs: 5 more, each remote CPU worth 0.75 -> 5 / 0.75 borrowed.
    assert alloc["h"]["cpu"] == pytest.approx(5 / 0.75)


def test_elastic_gives_nothing_to_a_job_that_gains_nothing() -> None:
    nodes = (Node("g", 4.0, 0, 4, "V100"), Node("cpu", 32.0, 0, 0, ""))
    alloc = elastic.allocate(ClusterView(nodes, (job("f", curve=FLAT),), {"f": "g"}), CpuParams())
    assert alloc == {"f": {"g": 1.0}}


def test_reclaim_takes_back_the_lowest_gain_cpus_first() -> None:
    # Two jobs share 10 spare CPUs; a newly arrived job's floor on the CPU node takes some back.
    nodes = (Node("g", 2.0, 0, 8, "V100"), Node("cpu", 10.0, 0, 0, ""))
    hungry, modest = job("h", curve=HUNGRY), job("m", curve=MODEST)
    before = elastic.allocate(ClusterView(nodes, (hungry, modest), {"h": "g", "m": "g"}), CpuParams(0.0))
    assert before["h"]["cpu"] + before["m"]["cpu"] == pytest.approx(10.0)
    # A CPU-only pod now reserves 6 CPUs there; only 4 remain to borrow.
    after = elastic.allocate(ClusterView(nodes, (hungry, modest), {"h": "g", "m": "g"}, {"cpu": 6.0}), CpuParams(0.0))
    assert after["h"].get("cpu", 0.0) + after["m"].get("cpu", 0.0) == pytest.approx(4.0)
    # modest's 3rd CPU gains 0.34 throughput out of 1.0 peak, more per CPU than hungry's later ones
    # (0.3/2.4 per CPU at most): modest keeps its CPUs, hungry gives back.
    assert after["m"]["g"] + after["m"].get("cpu", 0.0) == pytest.approx(3.0)
    assert after["h"].get("cpu", 0.0) < before["h"]["cpu"]


def test_elastic_beats_proportional_total_busy_gpus_when_cpus_are_scarce() -> None:
    from stoker.cluster.policies import proportional

    nodes = (Node("g", 6.0, 0, 2, "V100"), Node("cpu", 12.0, 0, 0, ""))
    jobs = (job("h", curve=HUNGRY), job("f", curve=FLAT))
    view = ClusterView(nodes, jobs, {"h": "g", "f": "g"})

    def busy(alloc):
        return sum(j.curve.utilisation(sum(alloc[j.name].values())) for j in jobs)

    assert busy(elastic.allocate(view, CpuParams(0.0))) > busy(proportional.allocate(view, CpuParams()))
