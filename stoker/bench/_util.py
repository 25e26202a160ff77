"""Helpers shared by the benchmarks: interleaved repeats, medians, the JSON last line."""

from __future__ import annotations

import json
import os
import statistics
import tempfile
from collections.abc import Callable
from typing import Any


def bench_dir(name: str) -> str:
    """A cache folder for generated benchmark inputs (kept between runs)."""
    root = os.environ.get("STOKER_BENCH_DIR") or os.path.join(tempfile.gettempdir(), "stoker-bench")
    path = os.path.join(root, name)
    os.makedirs(path, exist_ok=True)
    return path


def interleaved(
    runs: dict[str, Callable[[], float]], repeats: int, log: Callable[[str], None] = print
) -> dict[str, float]:
    """Runs every config once per round, ``repeats`` rounds, and returns the median of each.

    Interleaving spreads the machine's noise (other processes, thermal state) over all configs
    instead of letting it land on whichever ran last.
    """
    results: dict[str, list[float]] = {k: [] for k in runs}
    for r in range(repeats):
        for name, fn in runs.items():
            value = fn()
            results[name].append(value)
            log(f"  round {r + 1}/{repeats} {name:>14}: {value:8.1f}")
    return {k: statistics.median(v) for k, v in results.items()}


def emit(obj: dict[str, Any]) -> None:
    """Prints the benchmark's last stdout line: one JSON object."""
    print(json.dumps(obj), flush=True)
