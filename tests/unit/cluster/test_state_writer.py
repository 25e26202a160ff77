"""The controller's state file is written off the round, always whole, newest state last."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from stoker.cluster import state_writer
from stoker.cluster.state_writer import StateWriter


def test_the_newest_state_handed_over_ends_on_disk_and_the_thread_goes(tmp_path: Path) -> None:
    w = StateWriter(tmp_path / "s.json")
    for k in range(20):
        w.submit({"round": k})
    w.flush()
    assert json.loads((tmp_path / "s.json").read_text()) == {"round": 19}
    assert not any(t.name == "stoker-state-writer" for t in threading.enumerate())
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]  # no temporary file left


def test_a_failed_write_keeps_the_last_whole_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    w = StateWriter(tmp_path / "s.json")
    w.submit({"round": 1})
    w.flush()

    def unserialisable(obj: object) -> str:
        raise OSError("disk full")

    monkeypatch.setattr(state_writer.json, "dumps", unserialisable)
    w.submit({"round": 2})
    w.flush()
    assert w.failures == 1
    monkeypatch.undo()
    assert json.loads((tmp_path / "s.json").read_text()) == {"round": 1}
    with pytest.raises(OSError, match="disk full"):
        monkeypatch.setattr(state_writer.json, "dumps", unserialisable)
        w.write({"round": 3})  # a save the caller waits for raises what the write raised
