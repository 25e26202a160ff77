"""``stoker top --cluster`` reads a controller's metrics over HTTP (a real MetricsServer, a real process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from stoker.obs.cluster import ClusterCollector
from stoker.obs.exporter import MetricsServer
from tests.unit.obs.test_cluster import STATUS

ROOT = Path(__file__).resolve().parents[3]


def _top(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "160"}
    cmd = [sys.executable, "-m", "stoker", "top", "--cluster", "--once", *args]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_cluster_view_lists_every_job_with_its_budget_then_says_when_the_controller_is_gone() -> None:
    server = MetricsServer(ClusterCollector(lambda: STATUS), 0)
    url = server.url
    try:
        done = _top(url)
    finally:
        server.close()
    assert done.returncode == 0, done.stderr
    assert "resnet" in done.stdout and "bert" in done.stdout and "round 17" in done.stdout
    gone = _top(url)
    assert gone.returncode == 1 and "is gone" in gone.stdout
