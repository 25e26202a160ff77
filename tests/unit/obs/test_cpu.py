"""The idle-core meter never reports more cores than the machine has, or fewer than none."""

from __future__ import annotations

import psutil
import pytest

from stoker.obs import cpu


@pytest.mark.parametrize(
    ("idle_delta", "total_delta", "share"),
    [(10.000000000364, 10.0, 1.0), (5.0, 10.0, 0.5), (-1e-9, 10.0, 0.0)],
    ids=["rounded-above-all-idle", "half", "rounded-below-none"],
)
def test_cores_idle_stays_within_the_machine(monkeypatch, idle_delta, total_delta, share) -> None:
    readings = iter([(100.0, 1000.0), (100.0 + idle_delta, 1000.0 + total_delta)])
    monkeypatch.setattr(cpu, "_idle_and_total", lambda: next(readings))
    meter = cpu.CpuMeter(lambda: True)
    assert meter.cores_idle() == pytest.approx((psutil.cpu_count() or 1) * share)
