"""The controller service on a multi-node ``ray.cluster_utils.Cluster`` with jobs as separate driver
processes (:mod:`stoker.bench._cluster_job`: real CPU-bound pipelines on Ray data workers, ``Loader(cluster=NAME)``).

One run covers the life of a shared cluster: a job borrows the idle CPUs, a second job joins and gets its
floor in the round it joins while the first gives borrowed CPUs back, the controller is SIGKILLed and
restarted from its state file with the CLI while both train on, a third job dies and is dropped after three
silent periods, and the jobs leave. Asserted: budgets, membership and every epoch's sample ledger (each
index exactly once), never throughput.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402

from stoker.cluster import daemon  # noqa: E402
from stoker.obs.dashboard import DashboardServer  # noqa: E402

pytestmark = [pytest.mark.ray, pytest.mark.timeout(600)]

PERIOD_S = 1.0
SAMPLES = 48
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def cluster():
    # The trainers' node (the head, where drivers connect) has no CPU for data workers; a data node has 3.
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    c.add_node(num_cpus=3)
    c.wait_for_nodes()
    ray.init(address=c.address, namespace=daemon.NAMESPACE)
    try:
        yield c
    finally:
        daemon.stop()
        ray.shutdown()
        c.shutdown()


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join([str(REPO), e.get("PYTHONPATH", "")])
    return e


def cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "stoker", "cluster", *argv], env=env(), cwd=REPO, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


def job(cluster, name: str, tmp: Path) -> subprocess.Popen:
    argv = [sys.executable, "-m", "stoker.bench._cluster_job", "--address", cluster.address]
    argv += [
        "--name",
        name,
        "--out",
        str(tmp / f"{name}.jsonl"),
        "--stop",
        str(tmp / "stop"),
        "--samples",
        str(SAMPLES),
    ]
    return subprocess.Popen(argv, env=env(), cwd=REPO)


def status() -> dict:
    actor = daemon.find()
    assert actor is not None
    return ray.get(actor.status.remote(), timeout=30).to_json()


def wait_for(what, timeout_s: float = 120.0, every_s: float = 0.2):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        try:
            got = what()
        except (ray.exceptions.RayError, AssertionError):
            got = None
        if got:
            return got
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what.__doc__ or what}")


def budgets(s: dict) -> dict[str, int]:
    return {j["name"]: j["budget"] for j in s["jobs"]}


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def live_figures(url: str) -> None:
    """The controller's exporter serves what it knows: ``stoker top --cluster`` and the dashboard show it."""
    top = subprocess.run(
        [sys.executable, "-m", "stoker", "top", "--cluster", "--once", url],
        env={**env(), "COLUMNS": "160"}, cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert top.returncode == 0, top.stderr
    cells = [[c.strip() for c in line.split("│")] for line in top.stdout.splitlines()]
    assert {row[1] for row in cells if len(row) > 2} >= {"a", "b"} and "round" in top.stdout, top.stdout
    board = DashboardServer([url], port=0).start()
    try:
        with urllib.request.urlopen(f"{board.url}api/jobs", timeout=30) as r:
            payload = json.loads(r.read())
    finally:
        board.close()
    shown = payload["targets"][0]["cluster"]
    assert shown["rounds"] >= 1 and {j["name"] for j in shown["jobs"]} == {"a", "b"}, payload
    assert all(j["budget"] >= 1 and j["throughput"] >= 0 for j in shown["jobs"]), shown


def test_jobs_join_leave_survive_a_controller_kill_and_see_every_sample_once(cluster, tmp_path: Path) -> None:
    state = tmp_path / "controller.json"
    started = cli(
        "start", "--address", cluster.address, "--period", str(PERIOD_S), "--state", str(state), "--metrics-port", "0"
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    metrics = re.search(r"stoker top --cluster (\S+)\)", started.stdout)
    assert metrics is not None, started.stdout
    cpus = sum(n["cpus"] for n in status()["nodes"])
    assert cpus == 3
    procs = {"a": job(cluster, "a", tmp_path)}
    try:
        # Alone and data-bound, "a" borrows CPUs beyond its floor of 1.
        wait_for(lambda: budgets(status()).get("a", 0) > 1)
        procs["b"] = job(cluster, "b", tmp_path)

        def joined() -> dict | None:
            s = status()
            return s if "b" in budgets(s) else None

        # The round "b" joins in gives it its floor, and what "a" borrowed goes back in that same round.
        at_join = budgets(wait_for(joined))
        assert at_join["b"] >= 1 and sum(at_join.values()) <= cpus, at_join
        live_figures(metrics.group(1))

        # A job that dies is dropped after three silent periods and its budget freed.
        procs["c"] = job(cluster, "c", tmp_path)
        wait_for(lambda: "c" in budgets(status()))
        procs.pop("c").kill()
        wait_for(lambda: "c" not in budgets(status()), timeout_s=60)
        assert set(budgets(status())) == {"a", "b"}

        # SIGKILL the controller: jobs train on with their last budgets; a new one resumes from the state.
        pid = ray.get(daemon.find().pid.remote())
        os.kill(pid, signal.SIGKILL)
        killed_at = time.time()
        wait_for(lambda: daemon.find() is None or None, timeout_s=60)

        def epoch_after_kill() -> bool:
            """both jobs to finish an epoch with no controller"""
            return all(any(e.get("t", 0) > killed_at for e in lines(tmp_path / f"{n}.jsonl")) for n in ("a", "b"))

        wait_for(epoch_after_kill)
        restarted_at = time.time()
        restarted = cli("start", "--address", cluster.address, "--period", str(PERIOD_S), "--state", str(state))
        assert restarted.returncode == 0, restarted.stderr
        assert "resumed" in restarted.stdout
        s = status()
        assert s["starts"] == 2 and {"a", "b"} <= set(budgets(s))
        # Both report to the new process (fresh reports: silent for less than a period).
        wait_for(lambda: all(j["silent_s"] < PERIOD_S and j["throughput"] > 0 for j in status()["jobs"]))
        assert sum(budgets(status()).values()) <= cpus
        shown = cli("status", "--address", cluster.address, "--json")
        assert shown.returncode == 0, shown.stderr
        assert {j["name"] for j in json.loads(shown.stdout.strip().splitlines()[-1])["jobs"]} == {"a", "b"}
        table = cli("status", "--address", cluster.address)
        assert table.returncode == 0 and "budget" in table.stdout and "lent" in table.stdout, table.stderr
    finally:
        (tmp_path / "stop").touch()
        for p in procs.values():
            p.wait(timeout=300)
    for name in ("a", "b"):
        assert procs[name].returncode == 0, name
        got = lines(tmp_path / f"{name}.jsonl")
        epochs, end = [e for e in got if "epoch" in e], got[-1]  # a "start" line comes first
        assert end["done"] and end["lost"] >= 1 and end["joined"] >= 2, end  # lost it once, rejoined
        assert [e["epoch"] for e in epochs] == list(range(len(epochs)))
        for e in epochs:  # every epoch: every sample exactly once
            assert sorted(e["indices"]) == list(range(SAMPLES)), (name, e["epoch"])
            # The budget caps the job's own autoscaler (set_budget), which stays on; never past the cluster.
            assert e["autoscale"] and 1 <= e["workers"] <= e["budget"] <= cpus, e
        # Training went on while no controller ran.
        assert any(killed_at < e["t"] < restarted_at for e in epochs), name
    # Both left: the controller holds no job and frees every CPU.
    assert budgets(wait_for(lambda: status() if not status()["jobs"] else None, timeout_s=30)) == {}
    assert cli("stop", "--address", cluster.address).returncode == 0
    assert daemon.find() is None


def test_a_taken_metrics_port_is_one_line_and_leaves_no_controller(cluster) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = cli("start", "--address", cluster.address, "--metrics-port", str(port))
    assert started.returncode == 2, started.stdout
    err = started.stderr.strip().splitlines()
    assert len(err) == 1 and "cannot serve metrics" in err[0] and str(port) in err[0], started.stderr
    assert daemon.find() is None
