"""``stoker report``: PNG plots of a run from its JSONL stats log (``Loader(stats_log=PATH)``)."""

from __future__ import annotations

import itertools
import json
import math
import os
from typing import Any

from stoker.errors import InputError


def read_log(path: str) -> list[dict[str, Any]]:
    """The records of a stats log, in order.

    Raises:
        InputError: naming the file and line when it is missing, empty or not JSONL.
    """
    if os.path.isdir(path):
        raise InputError(f"{path!r} is a folder; give the JSONL file of Loader(..., stats_log=...)")
    if not os.path.isfile(path):
        raise InputError(f"{path!r} does not exist; write one with Loader(..., stats_log={path!r})")
    rows: list[dict[str, Any]] = []
    try:
        with open(path, "rb") as f:
            for n, raw in enumerate(f, 1):
                row = _record(path, n, raw)
                if row is not None:
                    rows.append(row)
    except OSError as exc:
        raise InputError(f"{path!r} cannot be read ({exc.strerror or exc}); check its permissions") from None
    if not rows:
        raise InputError(f"{path!r} holds no records yet; the loader writes one line a second")
    return rows


NUMBERS = ("samples", "wall_s", "wait_s", "step_s")  # what every record holds and the plots divide by
# Read when present (the plots and the diagnosis): numbers, and name -> number tables.
OPTIONAL_NUMBERS = ("workers", "max_workers", "worker_busy_s", "worker_s", "stage_samples", "cpu_free", "prefetch")
OPTIONAL_TABLES = ("stage_s", "stage_s_per_sample")


def _finite(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def _record(path: str, n: int, raw: bytes) -> dict[str, Any] | None:
    """Line ``n`` as a record, None for a blank line; an InputError naming the line for anything else."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}:{n} is not UTF-8 text ({exc.reason}); is it a stoker stats log?") from None
    if not line.strip():
        return None
    try:
        row = json.loads(line)
    except (json.JSONDecodeError, RecursionError) as exc:
        why = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deep"
        raise InputError(f"{path}:{n} is not a JSON line ({why}); is it a stoker stats log?") from None
    if not isinstance(row, dict):
        raise InputError(f"{path}:{n} is not a JSON object; is it a stoker stats log?")
    missing = [repr(k) for k in NUMBERS if k not in row]
    if missing:
        raise InputError(f"{path}:{n} has no {'/'.join(missing)}; is it a stoker stats log?")
    # json reads NaN and Infinity: a plot of them is no plot.
    for key in (*NUMBERS, *(k for k in OPTIONAL_NUMBERS if row.get(k) is not None)):
        if not _finite(row[key]):
            raise InputError(f"{path}:{n}: {key}={row[key]!r} is not a finite number; is it a stoker stats log?")
    for key in OPTIONAL_TABLES:
        table = row.get(key, {})
        if not isinstance(table, dict) or not all(isinstance(k, str) and _finite(v) for k, v in table.items()):
            raise InputError(f"{path}:{n}: {key} should map stage names to finite numbers; is it a stoker stats log?")
    return row


def rates(rows: list[dict[str, Any]]) -> tuple[list[float], list[float], list[float]]:
    """(time s, samples/s, data-wait %) between consecutive records (the first is a start point)."""
    ts, sps, wait = [], [], []
    for a, b in itertools.pairwise(rows):
        dt = b["wall_s"] - a["wall_s"]
        if dt <= 0:
            continue
        busy = (b["wait_s"] - a["wait_s"]) + (b["step_s"] - a["step_s"])
        ts.append(b["wall_s"])
        sps.append((b["samples"] - a["samples"]) / dt)
        wait.append(100.0 * (b["wait_s"] - a["wait_s"]) / busy if busy > 0 else 0.0)
    return ts, sps, wait


def draw(rows: list[dict[str, Any]], out_dir: str, title: str = "") -> list[str]:
    """Writes throughput.png, data_wait.png, workers.png and stages.png to ``out_dir``."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    os.makedirs(out_dir, exist_ok=True)
    ts, sps, wait = rates(rows)
    wall = [r["wall_s"] for r in rows]
    paths = []

    def save(fig: Any, name: str) -> None:
        fig.tight_layout()
        path = os.path.join(out_dir, name)
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)

    for name, ys, label in (("throughput.png", sps, "samples/s"), ("data_wait.png", wait, "trainer waiting (%)")):
        fig, ax = plt.subplots(figsize=(7, 3.2))
        ax.plot(ts, ys, marker=".")
        ax.set(xlabel="seconds since the loader started", ylabel=label, title=f"{title} {label}".strip())
        ax.grid(alpha=0.3)
        save(fig, name)
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.step(wall, [r.get("workers", 0) for r in rows], where="post", label="workers")
    ax.step(wall, [r.get("max_workers", 0) for r in rows], where="post", linestyle="--", label="budget")
    ax.set(xlabel="seconds since the loader started", ylabel="workers", title=f"{title} workers".strip())
    ax.legend()
    ax.grid(alpha=0.3)
    save(fig, "workers.png")
    last = rows[-1].get("stage_s_per_sample", {})
    fig, ax = plt.subplots(figsize=(7, 3.2))
    names = sorted(last, key=lambda k: -last[k])
    ax.barh(names, [1000.0 * last[k] for k in names])
    ax.invert_yaxis()
    ax.set(xlabel="worker ms per sample", title=f"{title} stage breakdown".strip())
    save(fig, "stages.png")
    return paths
