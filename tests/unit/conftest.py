"""The unit tier is fast and deterministic: no sleeping, no Ray (as in Ray Data's tests/unit)."""

from __future__ import annotations

import time

import pytest


@pytest.fixture(autouse=True)
def _forbid_sleep_and_ray(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_sleep(*_a: object, **_k: object) -> None:
        raise RuntimeError("unit tests must not sleep; move this test to tests/integration")

    monkeypatch.setattr(time, "sleep", no_sleep)
    try:
        import ray
    except ImportError:
        return

    def no_ray(*_a: object, **_k: object) -> None:
        raise RuntimeError("unit tests must not start Ray; move this test to tests/integration")

    monkeypatch.setattr(ray, "init", no_ray)
