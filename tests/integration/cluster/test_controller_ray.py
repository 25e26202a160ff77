"""The live controller on a real multi-node Ray cluster (``ray.cluster_utils.Cluster``) with three jobs of
different CPU appetite: simulated accelerators (a step is a sleep), data work in Ray tasks (real CPU work
plus a storage wait; see stoker/cluster/synthetic.py for why)."""

from __future__ import annotations

import time

import pytest

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402

from stoker.cluster.controller import Controller, start_controller  # noqa: E402
from stoker.cluster.policies import CpuParams  # noqa: E402
from stoker.cluster.records import Node  # noqa: E402
from stoker.cluster.synthetic import start_job  # noqa: E402

STEP_S = 0.1
# (name, CPU seconds, I/O seconds of data work per batch): 1 worker feeds "light" and "medium"
# (batch ready within a 0.1 s step); "heavy" needs 2 (0.2 s per batch).
JOBS = (("light", 0.005, 0.0), ("medium", 0.02, 0.03), ("heavy", 0.02, 0.18))
NODES = (
    Node("a", 1.0, 0, 1, "sim"),
    Node("b", 1.0, 0, 1, "sim"),
    Node("c", 1.0, 0, 1, "sim"),
    Node("cpu", 1.0, 0, 0, ""),
)


@pytest.fixture(scope="module")
def cluster():
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    for _ in range(3):
        c.add_node(num_cpus=1)
    ray.init(address=c.address)
    yield c
    ray.shutdown()
    c.shutdown()


def run(policy: str, rounds: int = 8, period_s: float = 1.5) -> tuple[list[dict[str, int]], float]:
    handles = [start_job(name, node.name, STEP_S, cpu, io) for (name, cpu, io), node in zip(JOBS, NODES)]
    controller = Controller(NODES, policy, CpuParams(remote_cost=0.0), grid=(1, 2, 3, 4))
    actor = start_controller(controller, handles)
    history = ray.get(actor.run.remote(rounds, period_s))
    # Throughput once the budgets have settled: the last rounds, measured afresh.
    ray.get([h.report.remote() for h in handles])
    time.sleep(3 * period_s)
    reports = ray.get([h.report.remote() for h in handles])
    ray.get([h.stop.remote() for h in handles])
    for h in [*handles, actor]:
        ray.kill(h)
    return history, sum(r.throughput for r in reports)


def test_cpus_move_to_the_job_that_gains_most_and_beat_static(cluster) -> None:
    static_history, static_total = run("static")
    elastic_history, elastic_total = run("elastic")
    assert all(b == {"light": 1, "medium": 1, "heavy": 1} for b in static_history)
    final = elastic_history[-1]
    assert final["heavy"] > 1 and final["heavy"] >= max(final["light"], final["medium"]), elastic_history
    assert sum(final.values()) <= 4  # never more workers than the cluster's CPUs
    print(f"steps/s static={static_total:.2f} elastic={elastic_total:.2f} budgets={elastic_history}")
    assert elastic_total > static_total
