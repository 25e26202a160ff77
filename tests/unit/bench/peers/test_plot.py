"""The plot reads the last JSON line of a saved run, and says so when there is none."""

from __future__ import annotations

import pytest

from stoker.bench.peers.plot import load


def test_load_takes_the_last_json_line(tmp_path) -> None:
    log = tmp_path / "run.log"
    log.write_text('machine: 2 cores\n{"pipelines": {}, "n": 1}\nround 2\n{"pipelines": {}, "n": 2}\n')
    assert load(str(log))["n"] == 2


def test_a_log_without_json_names_the_file(tmp_path) -> None:
    log = tmp_path / "empty.log"
    log.write_text("machine: 2 cores\n")
    with pytest.raises(ValueError, match=r"empty\.log"):
        load(str(log))
