"""The JSONL log and TensorBoard scalars, written by the sampler (its final snapshot on close)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stoker.obs.timeline import LIST_KEYS, JsonlSink, Sampler, TensorBoardSink
from tests.unit.obs.records import DECODE_BOUND, TRAINER_BOUND


def test_close_writes_the_final_snapshot_without_growing_lists(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    records = iter([DECODE_BOUND, TRAINER_BOUND])
    sampler = Sampler(lambda: next(records), [JsonlSink(path)], period=3600.0)  # no periodic line in this test
    sampler.close()
    sampler.close()  # twice is harmless
    [line] = path.read_text().splitlines()
    row = json.loads(line)
    assert row["samples"] == DECODE_BOUND["samples"] and row["stage_s"] == DECODE_BOUND["stage_s"]
    assert not set(LIST_KEYS) & set(row)


def test_a_missing_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        JsonlSink(tmp_path / "nope" / "run.jsonl")


def test_tensorboard_scalars_reach_a_real_event_file(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=str(tmp_path))
    sink = TensorBoardSink(writer)
    sink.write(DECODE_BOUND)
    sink.close()
    writer.close()
    acc = EventAccumulator(str(tmp_path))
    acc.Reload()
    tags = acc.Tags()["scalars"]
    assert "stoker/wait_fraction" in tags and "stoker/stage_ms_per_sample/decode" in tags
    [event] = acc.Scalars("stoker/wait_fraction")
    assert event.step == DECODE_BOUND["items"]
    assert event.value == pytest.approx(0.9)


def test_tensorboard_rejects_what_is_not_a_writer() -> None:
    with pytest.raises(TypeError, match="SummaryWriter"):
        TensorBoardSink(object())
