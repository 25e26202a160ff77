"""``stoker report``: reading a stats log (with clear errors) and drawing its four plots."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stoker.cli import main
from stoker.obs.report import draw, rates, read_log
from tests.unit.obs.records import record


def _log(path: Path) -> None:
    rows = [
        record(samples=0, wait_s=0.0, step_s=0.0, worker_busy_s=0.0, worker_s=0.0, stage_s={}),
        record(samples=320, wait_s=1.0, step_s=1.0, worker_busy_s=1.5, worker_s=2.0, stage_s={"decode": 1.2}),
        record(samples=960, wait_s=1.5, step_s=2.5, worker_busy_s=5.0, worker_s=8.0, stage_s={"decode": 4.0}),
    ]
    for wall, row in zip((0.5, 2.5, 4.5), rows):
        row["wall_s"] = wall
    path.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "workers_timeline"}) + "\n" for r in rows))


def test_rates_are_differences_between_lines(tmp_path: Path) -> None:
    _log(tmp_path / "run.jsonl")
    ts, sps, wait = rates(read_log(str(tmp_path / "run.jsonl")))
    assert ts == [2.5, 4.5]
    assert sps == [160.0, 320.0]
    assert wait == pytest.approx([50.0, 25.0])


def test_draw_writes_four_pngs(tmp_path: Path) -> None:
    _log(tmp_path / "run.jsonl")
    paths = draw(read_log(str(tmp_path / "run.jsonl")), str(tmp_path / "out"))
    assert sorted(Path(p).name for p in paths) == ["data_wait.png", "stages.png", "throughput.png", "workers.png"]
    for p in paths:
        assert Path(p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_report_prints_paths_and_a_diagnosis(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _log(tmp_path / "run.jsonl")
    assert main(["report", str(tmp_path / "run.jsonl")]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path / "run-report" / "throughput.png") in out
    assert "diagnosis:" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        ("", "holds no records"),
        ("{nope\n", "is not a JSON line"),
        ('{"a": 1}\n', "no 'samples'"),
    ],
)
def test_cli_report_bad_input_is_one_line_and_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    path = tmp_path / "run.jsonl"
    if content is not None:
        path.write_text(content)
    assert main(["report", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
