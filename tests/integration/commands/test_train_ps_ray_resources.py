"""``stoker train ps --backend ray`` on a cluster too small for it says what it waits for and gives up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("ray")


@pytest.mark.ray
def test_train_ps_on_a_too_small_ray_cluster_names_the_cpus_and_fails_after_the_timeout() -> None:
    root = Path(__file__).resolve().parents[3]
    # A fresh local Ray with this machine's CPUs (never another job's cluster), capped at 2 CPUs
    # so that 3 shards + 3 workers cannot fit whatever the machine.
    env = {**os.environ, "RAY_ADDRESS": "local", "RAY_NUM_CPUS": "2", "PYTHONPATH": str(root)}
    code = (
        "import ray, sys; ray.init(address='local', num_cpus=2, include_dashboard=False); "
        "from stoker.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    args = ["train", "ps", "--backend", "ray", "--shards", "3", "--workers", "3", "--resource-timeout", "2"]
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=240, env=env, cwd=root
    )
    assert done.returncode == 2, done.stderr[-3000:]
    assert "waiting up to 2 s for 6 free Ray CPUs (3 shard actors + 3 worker tasks" in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("stoker train: error: --backend ray needs 6 free CPUs"), last
    assert "Traceback" not in done.stderr
