"""The cluster controller's status as metrics, read back into ``stoker top --cluster``'s rows."""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, generate_latest
from rich.console import Console

from stoker.obs.cluster import ClusterCollector, cluster_rows, merge, render_cluster
from stoker.obs.top import sparkline

# The shape of ClusterStatus.to_json() of the controller service (stoker cluster status --json).
STATUS = {
    "policy": "elastic",
    "period_s": 2.0,
    "rounds": 17,
    "starts": 1,
    "jobs": [
        {
            "name": "resnet",
            "node": "n1",
            "gpus": 1.0,
            "budget": 5,
            "workers": 4.0,
            "throughput": 410.0,
            "data_wait": 0.31,
            "silent_s": 0.4,
        },
        {
            "name": "bert",
            "node": "n2",
            "gpus": 2.0,
            "budget": 1,
            "workers": 1.0,
            "throughput": 95.5,
            "data_wait": 0.0,
            "silent_s": 1.2,
        },
    ],
    "nodes": [],
}


def _text(status: dict | None) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ClusterCollector(lambda: status))  # type: ignore[arg-type]
    return generate_latest(registry).decode()


def test_status_round_trips_through_the_exposition() -> None:
    jobs, rounds = cluster_rows(_text(STATUS))
    assert rounds == 17
    assert sorted(jobs) == ["bert", "resnet"]
    r = jobs["resnet"]
    assert r.node == "n1"
    assert r.values == {"budget": 5, "workers": 4, "throughput": 410, "data_wait": 0.31, "gpus": 1, "silent_s": 0.4}


def test_a_gone_controller_exports_nothing() -> None:
    assert cluster_rows(_text(None)) == ({}, None)


def test_rows_keep_history_and_show_budgets() -> None:
    jobs, rounds = cluster_rows(_text(STATUS))
    later = {**STATUS, "jobs": [{**STATUS["jobs"][0], "throughput": 820.0}]}  # bert left
    jobs = merge(merge({}, jobs), cluster_rows(_text(later))[0])
    assert list(jobs) == ["resnet"] and list(jobs["resnet"].sps) == [410.0, 820.0]
    console = Console(width=160, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(render_cluster(jobs, rounds, sparkline))
    text = console.export_text()
    assert "round 17" in text and "resnet" in text and "820" in text and "31%" in text


def test_the_real_controller_service_status_exports_and_reads_back() -> None:
    from stoker.cluster.learning import JobReport
    from stoker.cluster.records import Node
    from stoker.cluster.service import ControllerService

    nodes = [Node("a", 4.0, 0, 1, "sim"), Node("b", 4.0, 0, 1, "sim")]
    service = ControllerService(lambda: nodes, "elastic", period_s=2.0)
    service.join(JobReport("resnet", "a", 1.0, 410.0, 0.31, 2.0))
    service.join(JobReport("bert", "b", 1.0, 95.5, 0.02, 1.0))
    status = service.status().to_json()
    jobs, rounds = cluster_rows(_text(status))
    assert rounds == status["rounds"]
    for row in status["jobs"]:
        got = jobs[row["name"]]
        assert got.node == row["node"]
        for key in ("budget", "workers", "throughput", "data_wait", "gpus", "silent_s"):
            assert got.values[key] == row[key], key
