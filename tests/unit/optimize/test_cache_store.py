"""The cache store round-trips every value kind bit for bit and never shows a half entry."""

from __future__ import annotations

import os

import numpy as np
import torch
from PIL import Image

from stoker.optimize.cache_store import MISS, CacheStore
from stoker.optimize.values import same


def test_values_round_trip_bit_for_bit(tmp_path) -> None:
    store = CacheStore(str(tmp_path / "c"), capacity=100)
    values = [
        torch.arange(12, dtype=torch.float32).view(3, 4).t(),  # non-contiguous
        torch.tensor([1.5, -0.0, float("nan")], dtype=torch.bfloat16),
        np.arange(10, dtype=np.int16),
        Image.fromarray(np.arange(48, dtype=np.uint8).reshape(4, 4, 3)),
        {"ids": torch.tensor([3, 4]), "text": "abc", "n": 3, "pair": (np.float32(1.5), [b"x"])},
    ]
    for i, v in enumerate(values):
        assert store.put(i, v)
    for i, v in enumerate(values):
        got = store.get(i)
        want = v.contiguous() if isinstance(v, torch.Tensor) else v
        assert same(got, want), (i, got, want)
    assert store.entries() == len(values)


def test_a_reader_that_writes_into_its_value_does_not_spoil_the_cache(tmp_path) -> None:
    store = CacheStore(str(tmp_path / "c"), capacity=10)
    store.put(0, np.zeros(8, dtype=np.float64))
    first = store.get(0)
    first += 1.0
    assert float(store.get(0).sum()) == 0.0


def test_capacity_and_misses(tmp_path) -> None:
    store = CacheStore(str(tmp_path / "c"), capacity=2)
    assert store.get(0) is MISS
    assert store.put(1, torch.ones(2)) and not store.put(2, torch.ones(2))
    assert store.get(2) is MISS and store.entries() == 1


def test_writes_land_whole_or_not_at_all(tmp_path) -> None:
    store = CacheStore(str(tmp_path / "c"), capacity=10)
    # A writer killed mid-write leaves only its temporary file behind, never a visible entry.
    with open(os.path.join(store.root, f".3.{os.getpid()}.tmp"), "wb") as f:
        f.write(b"STK1 partial")
    assert store.get(3) is MISS and store.entries() == 0
    store.put(3, torch.ones(1024))
    assert torch.equal(store.get(3), torch.ones(1024))
    store.remove()
    assert not os.path.exists(store.root)


def test_arrays_read_back_are_aligned_for_any_dtype(tmp_path) -> None:
    store = CacheStore(str(tmp_path / "c"), capacity=10)
    store.put(0, (np.arange(3, dtype=np.uint8), np.arange(5, dtype=np.float64), torch.arange(7, dtype=torch.int64)))
    _a, b, c = store.get(0)
    assert b.ctypes.data % 8 == 0 and c.data_ptr() % 8 == 0
