"""A resumed Loader refuses a state saved for another stream, naming the field that differs."""

from __future__ import annotations

from typing import Any

import pytest
import torch

import stoker
from stoker.data.fingerprint import FIELDS, RECORDED


def double(x: int) -> int:
    return 2 * x


def pipe(n: int = 40, batch: int = 4, shuffle: int | None = 0, drop_last: bool = False, extra: bool = False):
    p = stoker.from_items(list(range(n)))
    if shuffle is not None:
        p = p.shuffle(seed=shuffle)
    if extra:
        p = p.map(double)
    return p.batch(batch, drop_last=drop_last)


def saved(**kw: Any) -> dict[str, Any]:
    kw.setdefault("seed", 0)
    with stoker.Loader(pipe(), workers=0, **kw) as loader:
        it = iter(loader)
        next(it)
        return loader.state_dict()


class Files(torch.utils.data.Dataset):
    def __len__(self) -> int:
        return 40

    def __getitem__(self, i: int) -> int:
        return i


@pytest.mark.parametrize(
    ("field", "build"),
    [
        ("length", lambda: stoker.Loader(pipe(n=44), workers=0)),
        ("source", lambda: stoker.Loader(stoker.from_dataset(Files()).shuffle(seed=0).batch(4), workers=0)),
        ("operators", lambda: stoker.Loader(pipe(extra=True), workers=0)),
        ("shuffle", lambda: stoker.Loader(pipe(shuffle=1), workers=0)),
        ("batch_size", lambda: stoker.Loader(pipe(n=40, batch=5), workers=0)),
        ("drop_last", lambda: stoker.Loader(pipe(drop_last=True), workers=0)),
        ("seed", lambda: stoker.Loader(pipe(shuffle=0), workers=0, seed=9)),
        ("world_size", lambda: stoker.Loader(pipe(), workers=0, world_size=2)),
    ],
)
def test_each_mismatch_is_refused_naming_the_field(field: str, build) -> None:
    state = saved()
    with build() as other, pytest.raises(ValueError, match=rf"another stream: {field}="):
        other.load_state_dict(state)


def test_another_rank_is_refused() -> None:
    state = saved(rank=0, world_size=2)
    with stoker.Loader(pipe(), workers=0, rank=1, world_size=2) as other, pytest.raises(ValueError, match="rank="):
        other.load_state_dict(state)


def test_what_is_not_part_of_the_stream_may_change() -> None:
    state = saved()
    assert set(state["fingerprint"]) == set(FIELDS) | set(RECORDED)
    with stoker.Loader(pipe(), workers=0, prefetch=5, deterministic=True, interval=2.0) as other:
        other.load_state_dict(state)
        assert len(list(other)) == 9


def test_a_state_from_before_fingerprints_still_loads() -> None:
    state = saved()
    del state["fingerprint"]
    with stoker.Loader(pipe(), workers=0) as other:
        other.load_state_dict(state)
        assert len(list(other)) == 9
