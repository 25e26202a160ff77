"""A local worker keeps its collector off the heap it inherited (stoker.data.heap): without it, the
worker's first full collection walks the trainer's ~200k objects and copies the pages it touches."""

from __future__ import annotations

import gc

import pytest

import stoker


def _collector_view(_: int) -> tuple[int, int]:
    return gc.get_freeze_count(), len(gc.get_objects())


@pytest.mark.parametrize("start", ["template", "fork"])
def test_workers_freeze_what_they_inherit(start: str) -> None:
    trainer_tracked = len(gc.get_objects())  # torch, numpy, pytest and stoker: far above 20,000
    pipe = stoker.from_items(list(range(8))).map(_collector_view).batch(4, collate=list)
    with stoker.Loader(pipe, workers=2, mp_context=start) as loader:
        seen = [x for batch in loader for x in batch]
    assert len(seen) == 8
    for frozen, tracked in seen:
        assert frozen > trainer_tracked // 2, (frozen, trainer_tracked)
        assert tracked < trainer_tracked // 4, (tracked, trainer_tracked)
