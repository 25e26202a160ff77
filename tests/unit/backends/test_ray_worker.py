"""The Ray actor's body run in-process (no Ray): results, errors and the zero-copy wire form."""

from __future__ import annotations

import dataclasses
import pickle
from collections import namedtuple

import cloudpickle
import numpy as np
import pytest
import torch

import stoker
from stoker.backends.ray_worker import BoxedObject, DataWorker, NotLoaded, TensorBox, from_wire, to_wire
from stoker.data.executor import SplitFailure, SplitResult
from stoker.data.splits import Split

Pair = namedtuple("Pair", "x y")


@pytest.fixture(autouse=True)
def _keep_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def square(i: int) -> dict:
    return {"x": torch.tensor([i * i], dtype=torch.int64), "i": i}


def broken(i: int) -> int:
    raise KeyError(f"no label for {i}")


def test_wire_form_round_trips_nested_tensors_of_every_dtype():
    items = [
        {"a": torch.arange(6, dtype=torch.float32).view(2, 3), "b": (torch.ones(2, dtype=torch.bfloat16), "tag")},
        Pair(torch.tensor([1, 2], dtype=torch.uint8), np.arange(3)),
        7,
    ]
    wire = to_wire(items)
    assert isinstance(wire[0]["a"], TensorBox) and isinstance(wire[0]["a"].array, np.ndarray)
    assert isinstance(wire[1], Pair) and isinstance(wire[1].y, np.ndarray)  # numpy travels as itself
    back = from_wire(wire)
    assert torch.equal(back[0]["a"], items[0]["a"])
    assert back[0]["b"][0].dtype == torch.bfloat16 and torch.equal(back[0]["b"][0], items[0]["b"][0])
    assert back[0]["b"][1] == "tag" and back[2] == 7
    assert isinstance(back[1], Pair) and torch.equal(back[1].x, items[1].x)


def test_from_wire_does_not_copy():
    arr = np.arange(8, dtype=np.int32)
    arr.flags.writeable = False  # as numpy arrays come out of Ray's object store
    t = from_wire(TensorBox(arr, "int32"))
    assert t.data_ptr() == arr.ctypes.data


def test_worker_runs_a_split_like_the_executor():
    pipe = stoker.from_items(list(range(10))).map(square).batch(4)
    w = DataWorker(cloudpickle.dumps(pipe), seed=0, on_error="raise")
    assert w.hello()["error"] is None
    out = w.run(Split(0, 1, (4, 5, 6, 7)))
    assert isinstance(out, SplitResult) and out.key == (0, 1)
    batch = from_wire(out.items)[0]
    assert batch["x"].tolist() == [[16], [25], [36], [49]] and batch["i"].tolist() == [4, 5, 6, 7]


def test_a_failing_sample_comes_back_as_a_failure_record():
    w = DataWorker(cloudpickle.dumps(stoker.from_items([1, 2]).map(broken)), seed=0, on_error="raise")
    out = w.run(Split(0, 0, (1,)))
    assert (
        isinstance(out, SplitFailure) and out.indices == (1,) and "no label for 2" in out.message
    )  # sample 1 holds the value 2


def test_a_pipeline_that_cannot_load_is_reported_not_raised():
    w = DataWorker(b"not a pickle", seed=0, on_error="raise")
    info = w.hello()
    assert "could not load the pipeline" in info["error"] and "UnpicklingError" in info["error"]
    assert isinstance(w.run(Split(0, 0, (0,))), NotLoaded)


@dataclasses.dataclass
class Holder:
    view: torch.Tensor
    note: str


def test_tensors_inside_objects_travel_boxed_with_only_their_bytes():
    big = torch.arange(1 << 20, dtype=torch.float32)  # 4 MiB
    wire = to_wire([Holder(big[64:128], "n"), {"h": Holder(big[:4], "m")}, "plain"])
    assert isinstance(wire[0], BoxedObject) and len(wire[0].skeleton) < 1024
    assert wire[0].boxes[0].array.nbytes == 256 and len(pickle.dumps(wire)) < 4096
    back = from_wire(wire)
    assert isinstance(back[0], Holder) and back[0].note == "n" and torch.equal(back[0].view, big[64:128])
    assert torch.equal(back[1]["h"].view, big[:4]) and back[2] == "plain"
