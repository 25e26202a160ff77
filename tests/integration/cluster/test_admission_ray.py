"""The controller's admission through a real Ray actor: two ``stoker cluster start`` at once (one wins, the
other is one line and status 2), a secret to join, NaN/inf/huge reports and another job's token refused
across Ray while the rounds go on, and ``stoker cluster evict`` with and without the operator's secret."""

from __future__ import annotations

import dataclasses
import math
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402

from stoker.cluster import daemon  # noqa: E402
from stoker.cluster.admission import Refused  # noqa: E402
from stoker.cluster.learning import JobReport  # noqa: E402

pytestmark = [pytest.mark.ray, pytest.mark.timeout(300)]

REPO = Path(__file__).resolve().parents[3]
SECRET = "operator-secret-for-this-test"


@pytest.fixture(scope="module")
def cluster():
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 2, "include_dashboard": False})
    ray.init(address=c.address, namespace=daemon.NAMESPACE)
    try:
        yield c
    finally:
        daemon.stop()
        ray.shutdown()
        c.shutdown()


def cli(*argv: str, secret: str | None = SECRET) -> subprocess.Popen:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    env.pop(daemon.SECRET_ENV, None)
    if secret is not None:
        env[daemon.SECRET_ENV] = secret
    cmd = [sys.executable, "-m", "stoker", "cluster", *argv]
    return subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(p: subprocess.Popen) -> tuple[int, str, str]:
    out, err = p.communicate(timeout=120)
    return p.returncode, out, err


def test_one_of_two_starts_wins_and_only_tokens_and_the_secret_steer_jobs(cluster) -> None:
    starts = [cli("start", "--address", cluster.address, "--period", "0.5") for _ in range(2)]
    results = [finish(p) for p in starts]
    assert sorted(code for code, _, _ in results) == [0, 2], results
    loser = next(err for code, _, err in results if code == 2)
    assert "Traceback" not in loser and "already runs" in loser.strip().splitlines()[-1], loser

    actor = daemon.find()
    node = ray.get_runtime_context().get_node_id()
    good = JobReport("a", node, 1.0, 10.0, 0.5, 1.0)
    with pytest.raises(Refused, match="secret"):
        ray.get(actor.join.remote(good, "wrong"), timeout=30)
    token = ray.get(actor.join.remote(good, SECRET), timeout=30).token
    other = ray.get(actor.join.remote(dataclasses.replace(good, name="b"), SECRET), timeout=30).token

    for bad in (math.nan, math.inf, 1e7, -1.0):
        with pytest.raises(Refused, match="gpus"):
            ray.get(actor.report.remote(dataclasses.replace(good, gpus=bad, throughput=99.0), token), timeout=30)
    with pytest.raises(Refused, match="token") as info:
        ray.get(actor.report.remote(dataclasses.replace(good, throughput=99.0), other), timeout=30)
    assert not info.value.rejoin

    rounds = ray.get(actor.status.remote(), timeout=30).rounds
    end = time.monotonic() + 60
    while ray.get(actor.status.remote(), timeout=30).rounds < rounds + 2 and time.monotonic() < end:
        time.sleep(0.2)
    status = ray.get(actor.status.remote(), timeout=30)
    assert status.rounds >= rounds + 2  # the rounds went on
    a = next(j for j in status.jobs if j.name == "a")
    assert a.throughput == 10.0 and a.gpus == 1.0  # nothing refused was stored

    # Both jobs keep reporting, as live jobs do, while the operator's commands start up.
    stop = threading.Event()
    evicted: list[str] = []

    def keep_reporting() -> None:
        tokens = {"a": token, "b": other}
        while not stop.wait(0.2):
            for name in [n for n in tokens if n not in evicted]:
                try:
                    ray.get(actor.report.remote(dataclasses.replace(good, name=name), tokens[name]), timeout=30)
                except Refused as exc:
                    assert exc.rejoin, exc  # after the eviction: no longer a member
                    evicted.append(name)

    reporter = threading.Thread(target=keep_reporting, daemon=True)
    reporter.start()
    try:
        code, _, err = finish(cli("evict", "a", "--address", cluster.address, secret="wrong"))
        assert code == 2 and "wrong secret" in err.strip().splitlines()[-1] and "Traceback" not in err, err
        code, out, err = finish(cli("evict", "a", "--address", cluster.address))
        assert code == 0 and "evicted" in out, err
        assert {j.name for j in ray.get(actor.status.remote(), timeout=30).jobs} == {"b"}
    finally:
        stop.set()
        reporter.join(timeout=60)
    assert evicted in ([], ["a"])
