"""A state saved with ``optimize`` on resumes with it off, and the other way round, exactly."""

from __future__ import annotations

from typing import Any

import pytest

import stoker
from tests.common import optimize as fns
from tests.unit.optimize.conftest import identical


def pipeline() -> stoker.Pipeline:
    return stoker.from_items(list(range(24))).shuffle(seed=1).map(fns.heavy).map(fns.jitter).map(fns.scale).batch(4)


def loader(optimize: bool) -> stoker.Loader:
    return stoker.Loader(pipeline(), workers=0, seed=7, optimize=optimize)


@pytest.mark.parametrize(("first", "second"), [(True, False), (False, True), (True, True)])
def test_resume_with_optimize_toggled(first, second) -> None:
    with loader(False) as ref:
        want = [list(ref) for _ in range(2)]
    got: list[Any] = []
    with loader(first) as a:
        got.append(list(a))  # epoch 1 whole, then half of epoch 2
        it = iter(a)
        half = [next(it) for _ in range(3)]
        state = a.state_dict()
        if a.optimize_report is not None:
            a.optimize_report.close()
    with loader(second) as b:
        b.load_state_dict(state)
        got.append(half + list(b))
        if b.optimize_report is not None:
            assert b.optimize_report.applied  # the optimiser really rewrote the resumed pipeline
            b.optimize_report.close()
    assert identical(got, want)
