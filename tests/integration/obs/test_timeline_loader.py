"""A real Loader's JSONL log and TensorBoard scalars, and ``stoker report`` on that log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import stoker
from tests.integration.obs.pipelines import decode_bound, train

ROOT = Path(__file__).resolve().parents[3]


def test_stats_log_and_tensorboard_follow_the_loader_and_report_plots_them(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from torch.utils.tensorboard import SummaryWriter

    log = tmp_path / "run.jsonl"
    writer = SummaryWriter(log_dir=str(tmp_path / "tb"))
    with stoker.Loader(decode_bound(), workers=1, stats_log=log, tensorboard=writer, name="logged") as loader:
        it = iter(loader)
        train(it, 25, 0.02)
        # The sampler writes a line a second: keep training (250 batches remain) until it has written one,
        # so the log holds a periodic line and the one close() writes, however fast this machine is.
        for _ in range(200):
            if log.exists() and log.read_text().strip():
                break
            train(it, 1, 0.02)
        final = loader.stats()
    writer.close()
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(rows) >= 2
    assert [r["samples"] for r in rows] == sorted(r["samples"] for r in rows)
    last = rows[-1]  # written at close(), after the last batch
    for key in ("samples", "items", "wait_s", "step_s", "stage_s", "worker_busy_s", "errors", "skipped"):
        assert last[key] == final[key], key
    assert last["job"] == "logged" and "skipped_samples" not in last

    acc = EventAccumulator(str(tmp_path / "tb"))
    acc.Reload()
    steps = [e.step for e in acc.Scalars("stoker/samples_per_s")]
    assert steps[-1] == final["items"] and len(steps) == len(rows)

    out = tmp_path / "plots"
    proc = subprocess.run(
        [sys.executable, "-m", "stoker", "report", str(log), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["data_wait.png", "stages.png", "throughput.png", "workers.png"]
    assert "diagnosis:" in proc.stdout
