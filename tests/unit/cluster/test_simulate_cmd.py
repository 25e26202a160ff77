from __future__ import annotations

import json
from pathlib import Path

import pytest

from stoker.cli import main
from tests.unit.cluster.test_trace import NODES, PODS


def test_simulate_prints_the_summary_as_the_last_json_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pods.csv").write_text(PODS)
    (tmp_path / "nodes.csv").write_text(NODES)
    argv = [
        "simulate",
        "--trace",
        str(tmp_path / "pods.csv"),
        "--nodes",
        str(tmp_path / "nodes.csv"),
        "--policy",
        "elastic",
        "--seed",
        "1",
        "--json",
        "--plot",
        str(tmp_path / "plots"),
    ]
    assert main(argv) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    out = json.loads(last)
    assert list(out) == ["policy", "jobs", "avg_jct_s", "p99_jct_s", "makespan_s", "gpu_util", "cpu_util", "dropped"]
    assert out["policy"] == "elastic" and out["jobs"] == 2  # p2 wants a V100 the node list lacks
    assert (tmp_path / "plots" / "jct_cdf.png").stat().st_size > 0
    assert (tmp_path / "plots" / "utilisation.png").stat().st_size > 0


def test_simulate_names_a_missing_file_and_the_way_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["simulate", "--policy", "static", "--trace", str(tmp_path / "no.csv"), "--nodes", str(tmp_path / "no.csv")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no.csv not found" in err[0] and "STOKER_DATA_DIR" in err[0]
