"""The cache store round-trips every value kind bit for bit, never shows a half entry, and treats
every damaged entry or unusable folder as a counted miss."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from PIL import Image

from stoker.optimize.cache_stats import StatsSink, total
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
        assert store.put(i, 1, v)
    for i, v in enumerate(values):
        got = store.get(i, 1)
        want = v.contiguous() if isinstance(v, torch.Tensor) else v
        assert same(got, want), (i, got, want)
    assert store.entries() == len(values)


def test_a_reader_that_writes_into_its_value_does_not_spoil_the_cache(tmp_path) -> None:
    store = CacheStore(str(tmp_path / "c"), capacity=10)
    store.put(0, 1, np.zeros(8, dtype=np.float64))
    first = store.get(0, 1)
    first += 1.0
    assert float(store.get(0, 1).sum()) == 0.0


def test_capacity_and_misses(tmp_path) -> None:
    store = CacheStore(str(tmp_path / "c"), capacity=2)
    assert store.get(0, 1) is MISS
    assert store.put(1, 1, torch.ones(2)) and not store.put(2, 1, torch.ones(2))
    assert store.get(2, 1) is MISS and store.entries() == 1


def test_writes_land_whole_or_not_at_all(tmp_path) -> None:
    store = CacheStore(str(tmp_path / "c"), capacity=10)
    # A writer killed mid-write leaves only its temporary file behind, never a visible entry.
    with open(os.path.join(store.root, f".3.{os.getpid()}.tmp"), "wb") as f:
        f.write(b"STK2 partial")
    assert store.get(3, 1) is MISS and store.entries() == 0
    store.put(3, 1, torch.ones(1024))
    assert torch.equal(store.get(3, 1), torch.ones(1024))
    store.remove()
    assert not os.path.exists(store.root)


def test_arrays_read_back_are_aligned_for_any_dtype(tmp_path) -> None:
    store = CacheStore(str(tmp_path / "c"), capacity=10)
    store.put(0, 1, (np.arange(3, dtype=np.uint8), np.arange(5, dtype=np.float64), torch.arange(7, dtype=torch.int64)))
    _a, b, c = store.get(0, 1)
    assert b.ctypes.data % 8 == 0 and c.data_ptr() % 8 == 0


def _store(tmp_path, capacity: int = 10) -> CacheStore:
    (tmp_path / "stats").mkdir(parents=True, exist_ok=True)
    return CacheStore(str(tmp_path / "c"), capacity, stats=StatsSink(str(tmp_path / "stats")))


def _flip(path: str, at: int) -> None:
    with open(path, "r+b") as f:
        f.seek(at)
        byte = f.read(1)
        f.seek(at)
        f.write(bytes([byte[0] ^ 0x01]))


@pytest.mark.parametrize("where", ["header", "pickle", "array", "last"])
def test_a_flipped_byte_anywhere_is_a_counted_miss(tmp_path, where) -> None:
    store = _store(tmp_path)
    store.put(0, 1, {"x": np.arange(4096, dtype=np.float32), "label": 7})
    path = os.path.join(store.root, "0.entry")
    size = os.path.getsize(path)
    at = {"header": 20, "pickle": 60, "array": size // 2, "last": size - 1}[where]
    _flip(path, at)
    with pytest.warns(UserWarning, match="damaged"):
        assert store.get(0, 1) is MISS
    assert store.stats.counts.damaged == 1
    assert total(str(tmp_path / "stats")).damaged == 1  # written at once, for report.stats()


@pytest.mark.parametrize("cut", [0, 10, -1])
def test_truncated_or_padded_entries_are_misses(tmp_path, cut) -> None:
    store = _store(tmp_path)
    store.put(0, 1, torch.arange(1000))
    path = os.path.join(store.root, "0.entry")
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[:cut] if cut >= 0 else data + b"\0")
    with pytest.warns(UserWarning):
        assert store.get(0, 1) is MISS
    assert store.stats.counts.damaged == 1


def test_garbage_a_misplaced_entry_and_a_deleted_one(tmp_path) -> None:
    store = _store(tmp_path)
    store.put(0, 1, torch.zeros(3))
    store.put(1, 1, torch.ones(3))
    os.replace(os.path.join(store.root, "1.entry"), os.path.join(store.root, "2.entry"))
    with open(os.path.join(store.root, "3.entry"), "wb") as f:
        f.write(os.urandom(4096))
    os.unlink(os.path.join(store.root, "0.entry"))
    with pytest.warns(UserWarning):
        assert store.get(2, 1) is MISS  # sample 1's bytes in sample 2's place
        assert store.get(3, 1) is MISS
    assert store.get(0, 1) is MISS  # deleted: a plain miss
    assert store.stats.counts.damaged == 2


def test_an_entry_made_at_another_cut_is_not_served(tmp_path) -> None:
    store = _store(tmp_path)
    store.put(0, 2, torch.ones(3))
    assert store.get(0, 1) is MISS and store.stats.counts.damaged == 0
    assert store.cut(2) == 2
    store.lower_cut(1)
    assert store.cut(2) == 1 and store.cut(0) == 0


def test_a_vanished_or_read_only_folder_fails_writes_softly(tmp_path) -> None:
    store = _store(tmp_path)
    store.remove()
    assert store.get(0, 1) is MISS
    with pytest.warns(UserWarning, match="cannot write"):
        assert not store.put(0, 1, torch.ones(3))
    assert store.stats.counts.write_failed == 1
    # A path that cannot hold files (a file where the folder should be) fails the same way.
    other = _store(tmp_path / "other")
    other.remove()
    open(other.root, "w").close()
    with pytest.warns(UserWarning):
        assert not other.put(0, 1, torch.ones(3)) and other.get(0, 1) is MISS
    assert other.stats.counts.write_failed == 1


def test_a_full_file_system_is_a_failed_write(tmp_path) -> None:
    import resource
    import signal

    store = _store(tmp_path)
    # The file-size limit makes writes past 64 kB fail as on a full disk (EFBIG, or a short write).
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    old = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 16, old[1]))
    try:
        with pytest.warns(UserWarning, match="cannot write"):
            written = store.put(0, 1, torch.ones(1 << 18))
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, old)
        signal.signal(signal.SIGXFSZ, old_handler)
    assert not written and store.get(0, 1) is MISS and store.stats.counts.write_failed == 1
    assert [n for n in os.listdir(store.root) if n.endswith(".tmp")] == []  # nothing half-written left


def test_the_checksum_sees_every_single_bit_flip_and_moved_blocks() -> None:
    from stoker.optimize.cache_entry import checksum

    data = bytearray(np.random.default_rng(0).bytes(3001))  # a tail that is not a whole word
    want = checksum(data)
    for at in range(len(data)):
        data[at] ^= 1 << (at % 8)
        assert checksum(data) != want, at
        data[at] ^= 1 << (at % 8)
    big = np.random.default_rng(1).bytes(3 * 65536)
    swapped = big[65536:131072] + big[:65536] + big[131072:]
    assert checksum(big) != checksum(swapped) and checksum(big) != checksum(big + b"\0")
