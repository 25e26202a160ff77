"""freeze_inherited puts what exists now out of the collector's reach and leaves new objects in it."""

from __future__ import annotations

import gc

from stoker.data.heap import freeze_inherited


def test_existing_objects_are_frozen_and_new_ones_are_not() -> None:
    before = [object() for _ in range(3)], {"held": 1}
    try:
        freeze_inherited()
        frozen = gc.get_freeze_count()
        after = [[2]]  # a container of a container: tracked by the collector
        assert frozen >= len(gc.get_referents(before))
        tracked = {id(o) for o in gc.get_objects()}
        assert id(before[1]) not in tracked  # in the permanent generation: no collection walks it
        assert id(after) in tracked
    finally:
        gc.unfreeze()
