"""The live controller (a Ray actor) steering three jobs whose data comes from real ``stoker.Loader``s on
the Ray backend, on a multi-node ``ray.cluster_utils.Cluster``: simulated accelerators (a step is a sleep),
data workers are the Loaders' Ray actors. CPUs move to the job that gains most; the budgets differ from
``static``
in budgets (throughput is not asserted: it depends on the machine's load)."""

from __future__ import annotations

import sys
import time

import pytest

ray = pytest.importorskip("ray")
import cloudpickle  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

import stoker  # noqa: E402
from stoker.cluster.controller import Controller, start_controller  # noqa: E402
from stoker.cluster.loader_handle import LoaderJob  # noqa: E402
from stoker.cluster.policies import CpuParams  # noqa: E402
from stoker.cluster.records import Node  # noqa: E402

pytestmark = [pytest.mark.ray, pytest.mark.timeout(300)]
cloudpickle.register_pickle_by_value(sys.modules[__name__])

STEP_S = 0.1
# Per sample: real CPU seconds, then a storage wait (as a real loader waits on reads): on a shared 2-core
# machine a second worker doing only CPU work just competes for the same cores and shows nothing.
# A batch is 4 samples: "light" and "medium" are fed by 1 worker within a 0.1 s step; "heavy" needs 2.
JOBS = (("light", 0.001, 0.0), ("medium", 0.005, 0.008), ("heavy", 0.005, 0.045))
NODES = (
    Node("a", 1.0, 0, 1, "sim"),
    Node("b", 1.0, 0, 1, "sim"),
    Node("c", 1.0, 0, 1, "sim"),
    Node("cpu", 1.0, 0, 0, ""),
)


def decode(cpu_s: float, io_s: float):
    def fn(i: int) -> int:
        start = time.process_time()
        while time.process_time() - start < cpu_s:
            pass
        time.sleep(io_s)
        return i

    return fn


@pytest.fixture(scope="module")
def cluster():
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    for _ in range(3):
        c.add_node(num_cpus=1)
    ray.init(address=c.address)
    yield c
    ray.shutdown()
    c.shutdown()


def run(policy: str, rounds: int = 8, period_s: float = 2.0) -> tuple[list[dict[str, int]], float]:
    job_actor = ray.remote(LoaderJob).options(num_cpus=0, max_concurrency=4)
    jobs = []
    for (name, cpu_s, io_s), node in zip(JOBS, NODES):
        pipe = stoker.from_items(list(range(100_000))).map(decode(cpu_s, io_s)).batch(4)
        jobs.append(job_actor.remote(name, node.name, pipe, STEP_S, 1, backend="ray"))
    controller = Controller(NODES, policy, CpuParams(remote_cost=0.0), grid=(1, 2, 3, 4))
    actor = start_controller(controller, jobs)
    history = ray.get(actor.run.remote(rounds, period_s))
    ray.get([j.report.remote() for j in jobs])
    time.sleep(3 * period_s)
    reports = ray.get([j.report.remote() for j in jobs])
    ray.get([j.stop.remote() for j in jobs])
    for h in [*jobs, actor]:
        ray.kill(h)
    return history, sum(r.throughput for r in reports)


def test_loaders_get_cpus_where_they_gain_most(cluster) -> None:
    static_history, static_total = run("static")
    elastic_history, elastic_total = run("elastic")
    assert all(b == {"light": 1, "medium": 1, "heavy": 1} for b in static_history)
    final = elastic_history[-1]
    print(f"samples/s static={static_total:.1f} elastic={elastic_total:.1f} budgets={elastic_history}")
    assert final["heavy"] > 1 and final["heavy"] >= max(final["light"], final["medium"]), elastic_history
    assert sum(final.values()) <= 4
