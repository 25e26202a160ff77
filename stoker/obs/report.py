"""``stoker report``: PNG plots of a run from its JSONL stats log (``Loader(stats_log=PATH)``)."""

from __future__ import annotations

import itertools
import json
import os
from typing import Any

from stoker.errors import InputError


def read_log(path: str) -> list[dict[str, Any]]:
    """The records of a stats log, in order.

    Raises:
        InputError: naming the file and line when it is missing, empty or not JSONL.
    """
    if not os.path.isfile(path):
        raise InputError(f"{path!r} does not exist; write one with Loader(..., stats_log={path!r})")
    rows: list[dict[str, Any]] = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{n} is not a JSON line ({exc.msg}); is it a stoker stats log?") from exc
            if not isinstance(row, dict) or "samples" not in row or "wall_s" not in row:
                raise InputError(f"{path}:{n} has no 'samples'/'wall_s'; is it a stoker stats log?")
            rows.append(row)
    if not rows:
        raise InputError(f"{path!r} holds no records yet; the loader writes one line a second")
    return rows


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
