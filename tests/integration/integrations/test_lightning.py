"""Real PyTorch Lightning over stoker.DataLoader, against torch's DataLoader in the same test.

Runs ``examples/lightning_train.py`` (3 epochs, validation and test loops; Lightning's sanity check
stops after 2 validation batches): on one device with a mid-epoch checkpoint and a resumed run,
and with DDP on 2 CPU ranks (gloo), where Lightning rebuilds the loader with its DistributedSampler.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pytorch_lightning")

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "examples" / "lightning_train.py"
STEPS = 36  # 3 epochs of 96 samples in batches of 8


def _start(out: Path, *args: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, str(SCRIPT), "--out", str(out), *args]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _wait(proc: subprocess.Popen[bytes]) -> None:
    try:
        out, _ = proc.communicate(timeout=560)
    except subprocess.TimeoutExpired:
        proc.kill()  # leave no training run behind
        raise
    assert proc.returncode == 0, out.decode()[-3000:]


def _rank(out: Path, rank: int = 0) -> dict[str, Any]:
    return json.loads((out / f"rank{rank}.json").read_text())


def _assert_stokers_workers_made_them(ours: dict[str, Any], steps: int) -> None:
    assert ours["loader_class"] == "stoker.data.dataloader.DataLoader"
    assert ours["seed"] == 11  # stoker's own argument survived Lightning's handling of the loader
    assert ours["workers_stats"]["items"] == steps  # every training batch came through stoker's Loader
    assert ours["pids"] and ours["trainer_pid"] not in ours["pids"]  # read in worker processes


# Several framework processes at once: minutes on a loaded 2-core machine, beyond the suite's 300 s.
@pytest.mark.timeout(600)
def test_one_device_three_epochs_equal_torchs_and_resume_mid_epoch(tmp_path: Path) -> None:
    procs = [_start(tmp_path / "torch", "--loader", "torch"), _start(tmp_path / "stoker", "--save-at-step", "7")]
    for p in procs:
        _wait(p)
    theirs, ours = _rank(tmp_path / "torch"), _rank(tmp_path / "stoker")
    assert len(ours["train"]) == STEPS
    for loop in ("train", "val", "test"):  # batches and per-step losses
        assert ours[loop] == theirs[loop], loop
    assert len(ours["val"]) == 2 + 3 * 3  # the sanity check's 2 batches, then 3 per epoch
    _assert_stokers_workers_made_them(ours, STEPS)

    _wait(_start(tmp_path / "resumed", "--resume", str(tmp_path / "stoker" / "mid.ckpt")))
    resumed = _rank(tmp_path / "resumed")
    assert resumed["train"] == ours["train"][7:]  # the rest of epoch 0 exactly, then epochs 1 and 2
    assert resumed["test"] == ours["test"]
    assert resumed["loader_class"] == "stoker.data.dataloader.DataLoader"


# Several framework processes at once: minutes on a loaded 2-core machine, beyond the suite's 300 s.
@pytest.mark.timeout(600)
def test_ddp_two_cpu_ranks_equal_torchs(tmp_path: Path) -> None:
    procs = [
        _start(tmp_path / "torch", "--loader", "torch", "--devices", "2"),
        _start(tmp_path / "stoker", "--devices", "2"),
    ]
    for p in procs:
        _wait(p)
    samples: list[int] = []
    for rank in (0, 1):
        theirs, ours = _rank(tmp_path / "torch", rank), _rank(tmp_path / "stoker", rank)
        assert ours["sampler"] == theirs["sampler"] == "DistributedSampler"  # Lightning's, injected by rebuilding
        for loop in ("train", "val", "test"):
            assert ours[loop] == theirs[loop], (rank, loop)
        _assert_stokers_workers_made_them(ours, STEPS // 2)
        samples += [i for _, idx, _ in ours["train"][: STEPS // 6] for i in idx]  # epoch 0 of this rank
    assert sorted(samples) == list(range(96))  # the ranks' shares are disjoint and whole
