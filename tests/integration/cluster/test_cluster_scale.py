"""``stoker bench cluster_scale`` in small: the real controller actor, reporter actors, and every audited
round equal to the policy run offline (the 1,000-job figures are a benchmark, not asserted here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("ray")

pytestmark = [pytest.mark.ray, pytest.mark.timeout(300)]

REPO = Path(__file__).resolve().parents[3]


def test_forty_jobs_report_every_period_and_the_audited_rounds_match_the_policy_offline() -> None:
    argv = ["--jobs", "40", "--reporters", "2", "--period", "0.5", "--seconds", "4", "--settle", "1", "--audits", "2"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "stoker", "bench", "cluster_scale", *argv],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["jobs"] == 40 and out["rounds"] >= 3 and out["round_ms_p99"] > 0, out
    assert out["audits"] == 2 and out["audits_equal"] == 2, out
    assert out["controller_rss_mib"] > 0
