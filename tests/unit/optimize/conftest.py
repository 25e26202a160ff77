"""Shared fixtures of the optimiser's unit tests: caches go to a per-test folder."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import stoker
from stoker.optimize.values import same


def run(pipe: stoker.Pipeline, epochs: int = 2, **kwargs: Any) -> list[list[Any]]:
    """Every batch of ``epochs`` epochs, in-process (workers=0)."""
    with stoker.Loader(pipe, workers=0, seed=3, **kwargs) as loader:
        out = [list(loader) for _ in range(epochs)]
        report = getattr(loader, "optimize_report", None)
        if report is not None:
            report.close()
        return out


def identical(a: list[list[Any]], b: list[list[Any]]) -> bool:
    return len(a) == len(b) and all(len(x) == len(y) and all(same(p, q) for p, q in zip(x, y)) for x, y in zip(a, b))


@pytest.fixture
def optimize_in(tmp_path: Any) -> Callable[..., Any]:
    """``optimize`` with its cache in the test's own folder (no /dev/shm leftovers)."""

    def call(pipe: stoker.Pipeline, **kwargs: Any) -> Any:
        kwargs.setdefault("cache_dir", str(tmp_path / "cache"))
        return stoker.optimize(pipe, **kwargs)

    return call
