"""Every pod list in ``../shared/data`` simulates on the 64-GPU slice, or is refused with one clear line.

Each file is read whole and sliced as ``stoker simulate --gpus 64`` does; the jobs no node of the slice
can hold are dropped and counted there, so a replay of the slice's first jobs ends (never stuck) with every
GPU job finished. A pod list without time columns (a placement snapshot) is refused with an InputError
that says so.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stoker.cluster.scenario import build
from stoker.cluster.simulator import SimConfig, Simulator
from stoker.cluster.trace import can_ever_hold
from stoker.errors import InputError
from stoker.paths import data_dir

POD_LISTS = sorted(data_dir().glob("*pod_list*.csv"))
FIRST_JOBS = 200  # a prefix keeps the unit tier fast; the whole slice is `stoker bench cluster`'s job


def test_the_shared_data_holds_pod_lists() -> None:
    if not POD_LISTS:
        pytest.skip(f"no *pod_list*.csv in {data_dir()} (run `stoker data fetch` or set STOKER_DATA_DIR)")
    assert any(p.name.endswith("pod_list_default.csv") for p in POD_LISTS), POD_LISTS


@pytest.mark.parametrize("path", POD_LISTS, ids=lambda p: p.name)
def test_every_pod_list_simulates_or_is_refused_in_one_line(path: Path) -> None:
    try:
        scenario = build(path, gpus=64, cpus_per_gpu=3.0)
    except InputError as exc:
        assert "placement snapshot" in str(exc) and "\n" not in str(exc)
        return
    assert scenario.jobs and all(can_ever_hold(j, scenario.nodes) for j in scenario.jobs)
    jobs = scenario.jobs[:FIRST_JOBS]
    for policy in ("static", "elastic"):
        result = Simulator(scenario.nodes, jobs, scenario.profiles, SimConfig(policy)).run()
        assert len(result.jct_s) + result.dropped == sum(1 for j in jobs if j.gpus > 0), policy


def test_the_snapshot_in_the_shared_data_is_refused() -> None:
    snapshot = data_dir() / "alibaba-gpu-v2023-openb_pod_list_multigpu20.csv"
    if not snapshot.exists():
        pytest.skip(f"{snapshot} not present")
    with pytest.raises(InputError, match="placement snapshot"):
        build(snapshot, gpus=64)
