"""The cache store round-trips every value kind bit for bit, never shows a half entry, and treats
every damaged entry or unusable folder as a counted miss."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from PIL import Image

from stoker.optimize.cache_stats import StatsSink, total
from stoker.optimize.cache_store import MISS, CacheStore, arena_id
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
    # A writer killed mid-write leaves bytes in its arena that no index slot points at.
    with open(os.path.join(store.root, "arena-999999.bin"), "wb") as f:
        f.write(b"STK3 partial")
    assert store.get(3, 1) is MISS and store.entries() == 0
    store.put(3, 1, torch.ones(1024))
    assert torch.equal(store.get(3, 1), torch.ones(1024))
    store.remove()
    assert not os.path.exists(store.root)


def test_every_worker_reads_what_another_appended(tmp_path) -> None:
    import pickle

    store = CacheStore(str(tmp_path / "c"), capacity=10)
    other = pickle.loads(pickle.dumps(store))  # as a worker receives it
    other._pid = -1  # another process: its own arena
    store.put(0, 1, torch.zeros(4))
    other.put(1, 1, torch.ones(4))
    assert torch.equal(other.get(0, 1), torch.zeros(4)) and torch.equal(store.get(1, 1), torch.ones(4))
    assert len([n for n in os.listdir(store.root) if n.startswith("arena-")]) == 1 + (other._pid != store._pid)


def test_arrays_read_back_are_aligned_for_any_dtype(tmp_path) -> None:
    store = CacheStore(str(tmp_path / "c"), capacity=10)
    store.put(0, 1, (np.arange(3, dtype=np.uint8), np.arange(5, dtype=np.float64), torch.arange(7, dtype=torch.int64)))
    _a, b, c = store.get(0, 1)
    assert b.ctypes.data % 8 == 0 and c.data_ptr() % 8 == 0


def _store(tmp_path, capacity: int = 10) -> CacheStore:
    (tmp_path / "stats").mkdir(parents=True, exist_ok=True)
    return CacheStore(str(tmp_path / "c"), capacity, stats=StatsSink(str(tmp_path / "stats")))


def _where(store: CacheStore, index: int) -> tuple[str, int, int]:
    """(arena path, offset, length) of an entry, from the index."""
    slot = store._slot(index)
    assert slot is not None
    return os.path.join(store.root, f"arena-{slot[0]}.bin"), slot[2], slot[3]


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
    path, offset, size = _where(store, 0)
    at = {"header": 20, "pickle": 60, "array": size // 2, "last": size - 1}[where]
    _flip(path, offset + at)
    with pytest.warns(UserWarning, match="damaged"):
        assert store.get(0, 1) is MISS
    assert store.stats.counts.damaged == 1
    assert total(str(tmp_path / "stats")).damaged == 1  # written at once, for report.stats()


@pytest.mark.parametrize("keep", [0, 10, 4000])
def test_a_truncated_arena_is_a_miss(tmp_path, keep) -> None:
    store = _store(tmp_path)
    store.put(0, 1, torch.arange(1000))
    path, offset, _ = _where(store, 0)
    os.truncate(path, offset + keep)
    with pytest.warns(UserWarning):
        assert store.get(0, 1) is MISS
    assert store.stats.counts.damaged == 1


def test_a_damaged_index_slot_is_a_plain_miss(tmp_path) -> None:
    store = _store(tmp_path)
    store.put(0, 1, torch.arange(10))
    _flip(os.path.join(store.root, "index.bin"), 12)  # the offset: the slot's own check fails
    assert store.get(0, 1) is MISS


def test_garbage_a_misplaced_entry_and_a_deleted_arena(tmp_path) -> None:
    store = _store(tmp_path)
    store.put(0, 1, torch.zeros(3))
    store.put(1, 1, torch.ones(3))
    store.put(3, 1, torch.ones(300))
    index = os.path.join(store.root, "index.bin")
    with open(index, "r+b") as f:  # sample 1's slot copied into sample 2's place
        f.seek(32)
        slot = f.read(32)
        f.seek(64)
        f.write(slot)
    path, offset, length = _where(store, 3)
    with open(path, "r+b") as f:  # garbage over sample 3's bytes
        f.seek(offset)
        f.write(os.urandom(length))
    with pytest.warns(UserWarning):
        assert store.get(2, 1) is MISS
        assert store.get(3, 1) is MISS
    assert store.stats.counts.damaged == 2
    fresh = CacheStore(store.root, store.capacity, stats=store.stats)  # a reader with no open arena yet
    os.unlink(path)
    assert fresh.get(0, 1) is MISS  # its arena deleted: a plain miss


def test_an_entry_made_at_another_cut_is_not_served(tmp_path) -> None:
    store = _store(tmp_path)
    store.put(0, 2, torch.ones(3))
    assert store.get(0, 1) is MISS and store.stats.counts.damaged == 0
    assert store.cut(2) == 2
    store.lower_cut(1)
    assert store.cut(2) == 1 and store.cut(0) == 0


def test_a_vanished_or_read_only_folder_fails_writes_softly(tmp_path) -> None:
    store = _store(tmp_path)
    store.put(0, 1, torch.ones(3))
    import shutil

    shutil.rmtree(store.root)  # removed under the reader (report.close() in another process)
    with pytest.warns(UserWarning, match="cannot write"):
        assert not store.put(1, 1, torch.ones(3))
    assert store.stats.counts.write_failed == 1
    assert store.get(0, 1) is MISS and store._arenas == {} and store._index is None  # descriptors freed
    # A folder whose arena cannot be made (a folder where the file should be) fails the same way.
    other = _store(tmp_path / "other")
    os.mkdir(os.path.join(other.root, f"arena-{arena_id()}.bin"))
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
    assert store.put(1, 1, torch.ones(8)) and torch.equal(store.get(1, 1), torch.ones(8))  # room again: works


def test_the_checksum_sees_each_bit_flip_moved_blocks_and_an_extra_byte() -> None:
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
