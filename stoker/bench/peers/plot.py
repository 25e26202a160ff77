"""Draws the peers' standing from ``stoker bench peers`` output: ``python -m stoker.bench.peers.plot LOG PNG``.

Reads the last JSON line of a saved run (its stdout) and draws, per pipeline, each system's samples/s
from building the loader and steady, as ratios to torch's DataLoader; systems that repeat their
augmentation are hatched. Needs matplotlib (``stoker[demo]``).
"""

from __future__ import annotations

import json
import sys
from typing import Any


def load(log: str) -> dict[str, Any]:
    """The last JSON line of a saved run."""
    with open(log) as f:
        lines = [line for line in f if line.startswith("{")]
    if not lines:
        raise ValueError(f"{log!r} holds no JSON line; save the stdout of `stoker bench peers` and pass that file")
    return json.loads(lines[-1])


def draw(result: dict[str, Any], png: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pipelines = result["pipelines"]
    fig, axes = plt.subplots(1, len(pipelines), figsize=(6 * len(pipelines), 4), squeeze=False)
    for ax, (name, table) in zip(axes[0], pipelines.items()):
        base = table.get("torch")
        systems = list(table)
        build = [table[s]["sps_from_build"] / base["sps_from_build"] if base else 0.0 for s in systems]
        steady = [table[s]["sps"] / base["sps"] if base else 0.0 for s in systems]
        xs = range(len(systems))
        for x, b, s, system in zip(xs, build, steady, systems):
            hatch = "" if table[system]["random_per_epoch"] else "//"
            ax.bar(x - 0.2, b, 0.4, color="tab:blue", hatch=hatch, label="from building" if x == 0 else None)
            ax.bar(x + 0.2, s, 0.4, color="tab:orange", hatch=hatch, label="steady (epochs 2+)" if x == 0 else None)
        ax.axhline(1.0, color="grey", lw=0.8, label="torch DataLoader = 1")
        ax.set_xticks(list(xs), systems, rotation=35, ha="right", fontsize=8)
        ax.set_title(f"{name}: samples/s / torch DataLoader")
        ax.legend(fontsize=8)
    load = result.get("machine", {}).get("load_avg", ["?"])[0]
    fig.suptitle(f"stoker bench peers (load average {load} at start; hatched: repeats augmentation)", fontsize=9)
    fig.tight_layout()
    fig.savefig(png, dpi=110)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m stoker.bench.peers.plot LOG PNG")
    draw(load(sys.argv[1]), sys.argv[2])
