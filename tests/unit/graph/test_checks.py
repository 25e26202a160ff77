"""Checks that only raise are found from the caller's bytecode (stoker/graph/checks.py)."""

from __future__ import annotations

import sys
from types import FrameType

from stoker.graph.checks import raise_only_branch


class Probe:
    """Stands in for a traced tensor: ``bool()`` asks raise_only_branch about its caller's jump."""

    def __init__(self, value: bool) -> None:
        self.value = value
        self.found: str | None = "not asked"

    def __bool__(self) -> bool:
        frame: FrameType | None = sys._getframe(1)
        self.found = raise_only_branch(frame, self.value)
        return self.value


def only_raises(bad: Probe) -> int:
    if bad:
        raise ValueError(f"labels out of range: {bad}")
    return 1


# Compiled here, not in this module's body: pytest rewrites the asserts of test modules.
_SPACE: dict[str, object] = {}
exec(compile("def asserts(ok):\n    assert ok, 'must hold'\n    return 1\n", "user_code.py", "exec"), _SPACE)
asserts = _SPACE["asserts"]


def does_work(flag: Probe) -> int:
    total = 0
    if flag:
        total = 5
    return total


def test_an_if_that_only_raises_is_found_with_its_line() -> None:
    probe = Probe(False)
    assert only_raises(probe) == 1
    assert probe.found is not None and probe.found.endswith(f":{only_raises.__code__.co_firstlineno + 1}")


def test_an_assert_is_a_check_that_only_raises() -> None:
    probe = Probe(True)
    assert asserts(probe) == 1  # type: ignore[operator]
    assert probe.found is not None


def test_a_branch_that_does_work_is_not_a_check() -> None:
    for value in (False, True):
        probe = Probe(value)
        does_work(probe)
        assert probe.found is None, value


def test_no_frame_no_check() -> None:
    assert raise_only_branch(None, True) is None
