"""The Hugging Face Trainer example trains on stoker's workers with the losses of the Trainer's own loaders."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("transformers")
pytest.importorskip("accelerate")

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "examples" / "hf_trainer_train.py"


# Several framework processes at once: minutes on a loaded 2-core machine, beyond the suite's 300 s.
@pytest.mark.timeout(600)
def test_trainer_example_matches_the_trainers_own_loaders(tmp_path: Path) -> None:
    procs = {
        kind: subprocess.Popen(
            [sys.executable, str(SCRIPT), "--loader", kind, "--out", str(tmp_path / kind)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for kind in ("torch", "stoker")
    }
    results = {}
    for kind, proc in procs.items():
        try:
            log, _ = proc.communicate(timeout=560)
        except subprocess.TimeoutExpired:
            proc.kill()  # leave no training run behind
            raise
        assert proc.returncode == 0, log.decode()[-3000:]
        results[kind] = json.loads((tmp_path / kind / "result.json").read_text())
    ours, theirs = results["stoker"], results["torch"]
    assert len(ours["train_loss"]) == 2 * 64 // 8
    assert ours["train_loss"] == theirs["train_loss"]  # same batches in the same order, step by step
    assert ours["eval_loss"] == theirs["eval_loss"] and len(ours["eval_loss"]) == 2
    assert ours["loader_class"] == "DataLoader" and ours["train_batches_from_stoker"] == 2 * 64 // 8
