"""stoker bench worker_memory measures the processes each loader started, and ends with its JSON line."""

from __future__ import annotations

import json

import psutil

from stoker.bench import worker_memory


def test_a_round_measures_each_loaders_own_processes_and_leaves_none(capsys) -> None:
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    assert worker_memory.main(["--quick", "--rounds", "1", "--epochs", "1", "--pipeline", "sensor"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    out = json.loads(lines[-1])
    assert "2 processes" in next(line for line in lines if "dataloader:" in line)
    assert "3 processes" in next(line for line in lines if "stoker:" in line)  # two workers and their template
    for system in ("dataloader", "stoker"):
        assert out[system]["children_uss_mib"] > 0 and out[system]["tree_pss_mib"] > out[system]["children_uss_mib"]
    assert out["uss_ratio"] > 0 and out["machine"]["cores"] >= 1
    from multiprocessing import resource_tracker

    kept = {getattr(resource_tracker._resource_tracker, "_pid", None)}  # the trainer's, for its lifetime
    assert {p.pid for p in psutil.Process().children(recursive=True)} <= before | kept
