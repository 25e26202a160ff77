"""Real accelerate over stoker.DataLoader, with 1 process and with 2 (``accelerate launch``, CPU, gloo).

``accelerate_batches.py`` prepares torch's DataLoader with ``accelerator.prepare`` and stoker's with
``stoker.integrations.accelerate.prepare_data_loader`` in the same process and records both.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("accelerate")

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = Path(__file__).with_name("accelerate_batches.py")


def _start(out: Path, processes: int) -> subprocess.Popen[bytes]:
    out.mkdir()
    if processes == 1:
        cmd = [sys.executable, str(SCRIPT), str(out)]
    else:
        launcher = shutil.which("accelerate", path=str(Path(sys.executable).parent))
        assert launcher is not None, "accelerate's launcher is not installed beside this Python"
        # --multi_gpu picks accelerate's torchrun launcher; Accelerator(cpu=True) in the script
        # then runs its processes as MULTI_CPU over gloo (there is no GPU here).
        cmd = [launcher, "launch", "--multi_gpu", "--num_processes", str(processes), "--num_machines", "1"]
        cmd += ["--mixed_precision", "no", "--dynamo_backend", "no", str(SCRIPT), str(out)]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _records(out: Path, proc: subprocess.Popen[bytes], processes: int) -> list[dict[str, Any]]:
    try:
        log, _ = proc.communicate(timeout=560)
    except subprocess.TimeoutExpired:
        proc.kill()  # leave no launcher behind
        raise
    assert proc.returncode == 0, log.decode()[-3000:]
    return [json.loads((out / f"rank{r}.json").read_text()) for r in range(processes)]


# Several framework processes at once: minutes on a loaded 2-core machine, beyond the suite's 300 s.
@pytest.mark.timeout(600)
def test_prepared_batches_come_from_stokers_workers_and_equal_torchs(tmp_path: Path) -> None:
    procs = {n: _start(tmp_path / str(n), n) for n in (1, 2)}
    for n, proc in procs.items():
        records = _records(tmp_path / str(n), proc, n)
        per_epoch = -(-9 // n)  # accelerate's even_batches: the last process repeats the first batch
        epoch0: list[int] = []
        for r in records:
            assert r["processes"] == n
            assert r["stoker_class"] == "stoker.data.dataloader.DataLoader"
            assert r["stoker"] == r["torch"]  # 2 epochs, this process's batches, in order
            assert len(r["stoker"]) == 2 * per_epoch
            # The samples were read by stoker's worker processes, not in the trainer.
            assert r["pids"] and set(r["pids"]) <= set(r["stoker_workers"])
            assert r["trainer_pid"] not in r["pids"]
            # A state_dict() taken 3 batches in, loaded into a new prepared loader: the same epoch.
            assert r["resumed"] == r["stoker"][:per_epoch]
            epoch0 += [i for b in r["stoker"][:per_epoch] for i in b]
        assert set(epoch0) == set(range(36)) and len(epoch0) == 4 * per_epoch * n  # every sample, padded as torch's
