"""``stoker demo`` ends its report with the loader's diagnosis."""

from __future__ import annotations

from stoker.demo import DemoReport, render
from stoker.obs.diagnose import diagnose
from tests.unit.obs.records import DECODE_BOUND


def test_the_demo_report_ends_with_the_diagnosis() -> None:
    diagnosis = str(diagnose(DECODE_BOUND))
    report = DemoReport(
        steps=10,
        seconds=1.0,
        samples_per_s=320.0,
        wait_fraction=0.9,
        workers_max=2,
        workers_timeline=[(0.0, 2)],
        first_loss=2.0,
        last_loss=1.0,
        accuracy=0.5,
        stage_ms_per_sample={"decode": 5.0},
        diagnosis=diagnosis,
    )
    text = render(report)
    assert text.endswith(diagnosis) and "data-bound" in text
