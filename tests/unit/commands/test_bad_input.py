"""Every command rejects bad input up front: one line on stderr, exit status 2, no traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stoker.cli import main


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse: usage line + one error line, status 2
        code = int(exc.code or 0)
    err = capsys.readouterr().err
    return code, err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["train", "ps", "--workers", "0"], "--workers: 0 should be >= 1"),
        (["train", "ps", "--shards", "-1"], "--shards: -1 should be >= 1"),
        (["train", "ps", "--epochs", "0"], "--epochs: 0 should be >= 1"),
        (["train", "ps", "--base-lr", "nan"], "--base-lr: nan should be > 0"),
        (["train", "ps", "--consistency", "ssp:x"], "--consistency"),
        (["bench", "ps", "--epochs", "-1"], "--epochs: -1 should be >= 1"),
        (["bench", "hetero", "--trials", "0"], "--trials: 0 should be >= 1"),
        (["bench", "loader", "--workers", "-2"], "--workers: -2 should be >= 0"),
        (["bench", "elastic", "--steps", "1", "0", "1"], "--steps: 0 should be >= 1"),
        (["bench", "cluster", "--policies", "nope"], "unknown CPU policy 'nope'"),
        (["bench", "nope"], "unknown benchmark 'nope'"),
        (["simulate", "--policy", "elastic", "--gpus", "-5"], "--gpus: -5 should be >= 1"),
        (["simulate", "--policy", "elastic", "--noise", "-0.1"], "--noise: -0.1 should be >= 0"),
        (["simulate", "--policy", "elastic", "--plot", "/proc/stoker-cannot-write"], "--plot '/proc/stoker-cannot"),
        (["simulate", "--policy", "elastic", "--remote-cost", "3"], "--remote-cost 3 should be a fraction"),
        (["demo", "--workers", "-1"], "'auto' or a worker count >= 0"),
        (["demo", "--steps", "zero"], "'zero' is not an integer"),
        (["plan", "/no/such/script.py"], "FILE '/no/such/script.py': no such file"),
    ],
)
def test_bad_input_is_one_line_and_status_2(argv: list[str], needle: str, capsys) -> None:
    code, err = _run(argv, capsys)
    assert code == 2, err
    assert needle in err, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert needle in last  # the reason is one line (argparse's usage may precede it)


def test_plan_checks_its_output_folder_before_the_slow_partition(tmp_path: Path, capsys) -> None:
    script = tmp_path / "train.py"
    script.write_text("raise RuntimeError('the script must not run when --out is unwritable')\n")
    code, err = _run(["plan", str(script), "--out", "/proc/stoker-no/plan.png"], capsys)
    assert code == 2 and "--out" in err and "Traceback" not in err


def test_demo_checks_its_data_folder(tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, err = _run(["demo", "--data", os.fspath(blocker / "sub"), "--steps", "1"], capsys)
    assert code == 2 and "--data" in err


def test_simulate_refuses_an_empty_trace(tmp_path: Path, capsys) -> None:
    from tests.unit.cluster.test_trace import NODES, PODS

    (tmp_path / "pods.csv").write_text(PODS.splitlines()[0] + "\n")  # the header, no task
    (tmp_path / "nodes.csv").write_text(NODES)
    argv = ["simulate", "--policy", "elastic", "--trace", str(tmp_path / "pods.csv")]
    code, err = _run([*argv, "--nodes", str(tmp_path / "nodes.csv")], capsys)
    assert code == 2 and "Traceback" not in err
    assert "no jobs" in err or "empty" in err or "no task" in err, err
