import collections
import dataclasses
import os

import numpy as np
import torch

from stoker.data.transport import discard, pack, shm_dir, unpack

Pair = collections.namedtuple("Pair", "x y")


def test_round_trip_keeps_structure_dtypes_and_values(tmp_path) -> None:
    items = [
        Pair(torch.randn(3, 4), torch.arange(3)),
        {"u8": torch.randint(0, 255, (2, 5), dtype=torch.uint8), "np": np.eye(3), "s": "text"},
        torch.tensor(1.5, dtype=torch.bfloat16),
        torch.empty(0, 3),
    ]
    packed = pack(items, os.path.join(shm_dir(), f"stoker-unit-{os.getpid()}"))
    out = unpack(packed)
    assert not any(os.path.exists(p) for p, _ in packed.files if p)  # unlinked as soon as mapped
    assert isinstance(out[0], Pair) and torch.equal(out[0].x, items[0].x) and torch.equal(out[0].y, items[0].y)
    assert torch.equal(out[1]["u8"], items[1]["u8"]) and np.array_equal(out[1]["np"], np.eye(3))
    assert out[1]["s"] == "text" and out[2].dtype == torch.bfloat16 and out[3].shape == (0, 3)


def test_payloads_without_arrays_need_no_file() -> None:
    packed = pack([1, "a"], os.path.join(shm_dir(), "never-created"))
    assert packed.files == (("", 0),) and unpack(packed) == [1, "a"]


def test_discard_removes_a_duplicate_payload() -> None:
    packed = pack([torch.ones(2)], os.path.join(shm_dir(), f"stoker-unit-dup-{os.getpid()}"))
    discard(packed)
    assert not os.path.exists(packed.files[0][0])


def test_arena_tensors_are_referenced_not_copied() -> None:
    from stoker.data.transport import Arena, arena_collate

    arena = Arena(os.path.join(shm_dir(), f"stoker-unit-arena-{os.getpid()}"))
    samples = [(torch.full((3, 64, 64), float(i)), i) for i in range(4)]
    batch = arena_collate(arena)(samples)
    packed = pack([batch], os.path.join(shm_dir(), f"stoker-unit-split-{os.getpid()}"), arena)
    assert len(packed.files) == 2 and packed.files[1][1] == 4 * 3 * 64 * 64 * 4  # the image batch has its own file
    ((x, y),) = unpack(packed)
    assert torch.equal(x, torch.stack([s[0] for s in samples])) and y.tolist() == [0, 1, 2, 3]
    assert not any(os.path.exists(p) for p, _ in packed.files if p)


@dataclasses.dataclass
class Holder:
    view: torch.Tensor
    name: str


class Custom:
    def __init__(self, arr: np.ndarray) -> None:
        self.arr = arr


def test_a_small_view_of_a_large_storage_costs_only_its_own_bytes_in_any_object() -> None:
    big = torch.arange(4 << 20, dtype=torch.float32)  # a 16 MiB storage
    base = np.arange(1 << 20, dtype=np.float64)  # 8 MiB
    items = [Holder(big[1000:1064], "a"), {"c": Custom(base[8:40])}, (Holder(big[::65536][:64], "strided"),)]
    packed = pack(items, os.path.join(shm_dir(), f"stoker-unit-view-{os.getpid()}"))
    assert sum(size for _, size in packed.files) <= 3 * 256 + 3 * 64  # three 256-byte views, 64-byte aligned
    out = unpack(packed)
    assert isinstance(out[0], Holder) and out[0].name == "a" and torch.equal(out[0].view, big[1000:1064])
    assert isinstance(out[1]["c"], Custom) and np.array_equal(out[1]["c"].arr, base[8:40])
    assert torch.equal(out[2][0].view, big[::65536][:64])
    assert out[0].view.untyped_storage().nbytes() == 256


def test_sparse_tensors_still_travel() -> None:
    sparse = torch.eye(3).to_sparse()
    out = unpack(pack([sparse], os.path.join(shm_dir(), f"stoker-unit-sparse-{os.getpid()}")))
    assert out[0].is_sparse and torch.equal(out[0].to_dense(), torch.eye(3))
