"""The pin-memory thread: items in order, the state after each, errors handed over, then the rest."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stoker.data.pinning import Pinner


class Source:
    """Items 0..5 where 2 raises KeyError once; `taken` plays the Loader's state."""

    def __init__(self) -> None:
        self.taken = 0

    def items(self) -> Iterator[int]:
        while self.taken < 6:
            self.taken += 1
            if self.taken == 3:
                raise KeyError("bad 2")
            yield self.taken - 1


def test_items_states_and_errors_cross_the_thread() -> None:
    src = Source()
    pinner = Pinner(src.items(), src.items, lambda: {"taken": src.taken}, "cpu", depth=1, pin=lambda x, d: (x, d))
    got = []
    while True:
        try:
            got.append(pinner.next())
        except KeyError:
            got.append("KeyError")
        except StopIteration:
            break
    assert got == [
        ((0, "cpu"), {"taken": 1}),
        ((1, "cpu"), {"taken": 2}),
        "KeyError",
        ((3, "cpu"), {"taken": 4}),
        ((4, "cpu"), {"taken": 5}),
        ((5, "cpu"), {"taken": 6}),
    ]
    with pytest.raises(StopIteration):
        pinner.next()
    pinner.close()
    pinner.thread.join(5)
    assert not pinner.thread.is_alive()
