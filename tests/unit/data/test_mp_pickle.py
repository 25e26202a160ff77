"""multiprocessing Values and Locks inside a pipeline pickle, and the copy shares the memory."""

from __future__ import annotations

import multiprocessing
import pickle

import torch

from stoker.data import mp_pickle


def test_values_and_locks_cross_and_stay_shared() -> None:
    ctx = multiprocessing.get_context("spawn")
    value, lock = ctx.Value("i", 3), ctx.Lock()
    copy = pickle.loads(mp_pickle.dumps({"value": value, "lock": lock, "f": lambda x: x + 1}))
    with copy["lock"]:
        copy["value"].value = copy["f"](copy["value"].value)
    assert value.value == 4  # the copy maps the same shared memory


def test_tensors_still_travel_by_value() -> None:
    t = torch.arange(4)
    copy = pickle.loads(mp_pickle.dumps(t))
    assert torch.equal(copy, t) and not t.is_shared()  # not moved into shared memory
