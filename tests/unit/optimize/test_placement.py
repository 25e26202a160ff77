"""Placement is report-only: its measurement waits until the report is read, so the first batch does not."""

from __future__ import annotations

from typing import Any

import stoker
from tests.common import optimize as fns


class _Calls:
    """:func:`fns.heavy_keep`, counting its calls in this process."""

    def __init__(self) -> None:
        self.n = 0
        self.__name__ = "heavy_keep"

    def __call__(self, rec: dict[str, Any]) -> dict[str, Any]:
        self.n += 1
        return fns.heavy_keep(rec)


def test_the_gil_measurement_runs_when_the_report_is_read(optimize_in) -> None:
    op = _Calls()
    pipe = stoker.from_items(list(range(16))).map(fns.heavy).map(fns.jitter).map(op).batch(4)
    _, report = optimize_in(pipe, strategies=["placement"])
    probed = op.n
    assert probed > 0  # the probe ran it
    placement = report.rewrites[-1]
    assert placement.strategy == "placement" and "GIL" not in placement.why
    text = report.explain()
    assert "ops releasing the GIL:" in text and op.n > probed  # measured now
    again = op.n
    assert report.explain() == text and op.n == again  # once
    report.close()
