"""An unfriendly user's input to every command: NaN, inf, huge and negative numbers, undecodable text, a
folder for a file, a bad $STOKER_DATA_DIR. Each is one line on stderr naming the value, status 2, no
traceback (issue 24's list, as a table)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from stoker.cli import main
from tests.unit.cluster.test_trace import NODES

HEADER = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time"
GOOD_ROW = "p0,12000,16384,1,1000,,LS,Running,0,1000,0"
RECORD = '{"samples": 1, "wall_s": 1, "wait_s": 0, "step_s": 1}'


def _write(tmp: Path, name: str, data: str | bytes) -> str:
    path = tmp / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return str(path)


def simulate(pods: str | bytes) -> Callable[[Path], list[str]]:
    def argv(tmp: Path) -> list[str]:
        trace, nodes = _write(tmp, "pods.csv", pods), _write(tmp, "nodes.csv", NODES)
        return ["simulate", "--policy", "elastic", "--trace", trace, "--nodes", nodes]

    return argv


def folder_trace(tmp: Path) -> list[str]:
    """A folder where the trace belongs (and a real node list, so no default file is looked up)."""
    return ["simulate", "--policy", "elastic", "--trace", str(tmp), "--nodes", _write(tmp, "nodes.csv", NODES)]


def report(content: str | bytes) -> Callable[[Path], list[str]]:
    return lambda tmp: ["report", _write(tmp, "run.jsonl", content), "--out", str(tmp / "out")]


def plan(script: str | bytes) -> Callable[[Path], list[str]]:
    return lambda tmp: ["plan", _write(tmp, "train.py", script), "--out", str(tmp / "plan.png")]


def fixed(*argv: str) -> Callable[[Path], list[str]]:
    return lambda tmp: list(argv)


def in_tmp(*argv: str) -> Callable[[Path], list[str]]:
    """``{tmp}`` in an argument becomes the test's folder (a folder where a file belongs)."""
    return lambda tmp: [a.replace("{tmp}", str(tmp)) for a in argv]


CASES: list[tuple[str, Callable[[Path], list[str]], str]] = [
    # stoker simulate: the trace's numbers and text, and its flags
    ("simulate-nan-time", simulate(f"{HEADER}\np0,12000,16384,1,1000,,LS,Running,nan,1000,0\n"), "creation_time='nan'"),
    ("simulate-inf-time", simulate(f"{HEADER}\np0,12000,16384,1,1000,,LS,Running,0,inf,0\n"), "deletion_time='inf'"),
    ("simulate-missing-time", simulate(f"{HEADER}\np0,12000,16384,1,1000,,LS,Running,,1000,0\n"), "no creation_time"),
    ("simulate-negative-cpu", simulate(f"{HEADER}\np0,-5,16384,1,1000,,LS,Running,0,1000,0\n"), "cpu_milli='-5'"),
    ("simulate-huge-gpus", simulate(f"{HEADER}\np0,1000,16384,1e308,1000,,LS,Running,0,1000,0\n"), "num_gpu='1e308'"),
    (
        "simulate-invalid-utf8",
        simulate(f"{HEADER}\n{GOOD_ROW}\n".encode() + b"p\xff,1,1,1,1,,LS,Running,0,9,0\n"),
        "not UTF-8",
    ),
    ("simulate-folder-trace", folder_trace, "is a folder"),
    ("simulate-negative-seed", fixed("simulate", "--policy", "elastic", "--seed", "-1"), "--seed: -1 should be >= 0"),
    ("simulate-nan-noise", fixed("simulate", "--policy", "elastic", "--noise", "nan"), "--noise: nan should be >= 0"),
    ("simulate-inf-cpus", fixed("simulate", "--policy", "elastic", "--cpus-per-gpu", "inf"), "--cpus-per-gpu: inf"),
    # stoker train ps
    ("ps-workers-5000", fixed("train", "ps", "--workers", "5000"), "--workers: 5000 should be <= 1024"),
    ("ps-warmup-1e308", fixed("train", "ps", "--warmup-epochs", "1e308"), "--warmup-epochs: 1e+308 should be <="),
    ("ps-base-lr-1e308", fixed("train", "ps", "--base-lr", "1e308"), "--base-lr: 1e+308 should be <= 10"),
    ("ps-base-lr-inf", fixed("train", "ps", "--base-lr", "inf"), "--base-lr: inf should be > 0"),
    ("ps-budget-1e-6", fixed("train", "ps", "--memory-budget-mib", "1e-6"), "does not hold the model"),
    ("ps-huge-batch", fixed("train", "ps", "--base-batch", "100000"), "exceeds the 1437 training samples"),
    ("ps-negative-seed", fixed("train", "ps", "--seed", "-1"), "--seed: -1 should be >= 0"),
    # stoker report
    ("report-garbage", report("not json at all\n"), "is not a JSON line"),
    ("report-undecodable", report(b"\xff\xfe\x00\x01\n"), "is not UTF-8"),
    ("report-nan", report('{"samples": NaN, "wall_s": 1, "wait_s": 0, "step_s": 1}\n'), "samples=nan"),
    ("report-wrong-type", report(RECORD + '\n{"samples": 2, "wall_s": 2, "wait_s": 0, "step_s": "x"}\n'), "step_s='x'"),
    ("report-bad-stage", report('{"samples": 1, "wall_s": 1, "wait_s": 0, "step_s": 1, "stage_s": [1]}\n'), "stage_s"),
    ("report-list", report("[1, 2]\n"), "is not a JSON object"),
    ("report-folder", in_tmp("report", "{tmp}"), "is a folder"),
    # stoker top
    ("top-bad-ipv6", fixed("top", "http://[::1", "--once"), "is not an http address"),
    ("top-bad-port", fixed("top", "http://127.0.0.1:99999", "--once"), "is not an http address"),
    ("top-ftp", fixed("top", "ftp://127.0.0.1:9100", "--once"), "is not an http address"),
    ("top-nan-interval", fixed("top", "127.0.0.1:9", "--interval", "nan"), "--interval nan should be > 0"),
    # stoker plan
    ("plan-pipe-not-pipeline", plan("import torch\npipe = 3\nmodel = torch.nn.Linear(2, 2)\n"), "`pipe` should be"),
    ("plan-model-not-module", plan("pipe = [1, 2]\nmodel = 'm'\n"), "`model` should be"),
    ("plan-not-python", plan(b"\xff\xfe\x00binary"), "is not a Python script"),
    ("plan-folder", in_tmp("plan", "{tmp}"), "is not a file"),
    # stoker demo: a typo must neither fill the disk with JPEGs nor wait forever for a batch
    ("demo-huge-images", fixed("demo", "--images", "1000000000000"), "--images: 1000000000000 should be <= 100000"),
    ("demo-negative-seed", fixed("demo", "--seed", "-1"), "--seed: -1 should be >= 0"),
    ("demo-batch-past-images", fixed("demo", "--images", "10", "--batch-size", "1000"), "--batch-size 1000 exceeds"),
    # stoker cluster (all refused before anything connects to Ray)
    ("cluster-nan-period", fixed("cluster", "start", "--period", "nan"), "--period nan should be > 0"),
    ("cluster-inf-period", fixed("cluster", "start", "--period", "inf"), "--period inf should be > 0"),
    ("cluster-nan-cost", fixed("cluster", "start", "--remote-cost", "nan"), "--remote-cost nan"),
    ("cluster-state-folder", in_tmp("cluster", "start", "--state", "{tmp}"), "is a folder"),
    ("cluster-evict-no-secret", fixed("cluster", "evict", "job-a"), "STOKER_CLUSTER_SECRET"),
]


@pytest.mark.parametrize(("argv", "needle"), [pytest.param(a, n, id=i) for i, a, n in CASES])
def test_hostile_input_is_one_line_and_status_2(argv, needle: str, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("STOKER_CLUSTER_SECRET", raising=False)
    try:
        code = main(argv(tmp_path))
    except SystemExit as exc:  # argparse: its usage line, then one line naming the flag
        code = int(exc.code or 0)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    assert needle in err.strip().splitlines()[-1], err


def test_an_undecodable_controller_state_is_refused_before_ray(tmp_path: Path, capsys) -> None:
    state = _write(tmp_path, "state.json", b"\xff\xfe{")
    assert main(["cluster", "start", "--state", state]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a controller's JSON state" in err[0]


@pytest.mark.parametrize("kind", ["missing", "file"])
@pytest.mark.parametrize("argv", [["simulate", "--policy", "elastic", "--gpus", "8"], ["data", "list"]])
def test_a_bad_data_dir_is_one_line(kind: str, argv: list[str], tmp_path: Path, capsys, monkeypatch) -> None:
    target = tmp_path / "data"
    if kind == "file":
        target.write_text("not a folder")
    monkeypatch.setenv("STOKER_DATA_DIR", str(target))
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"STOKER_DATA_DIR='{target}'" in err[0]


def test_pending_pods_are_counted_and_said_never_dropped_in_silence(tmp_path: Path, capsys) -> None:
    pending = "p1,12000,16384,1,1000,,LS,Pending,5,1000,"
    assert main([*simulate(f"{HEADER}\n{GOOD_ROW}\n{pending}\n")(tmp_path), "--json"]) == 0
    captured = capsys.readouterr()
    assert "the trace's 1 pending pods" in captured.err and '"jobs": 1' in captured.out
