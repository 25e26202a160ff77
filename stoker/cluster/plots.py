"""PNG plots of simulation results: JCT CDF per policy, GPU and CPU utilisation over time."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from stoker.cluster.simulator import SimResult


def _pyplot():
    # Imported here: matplotlib is an optional dependency and slow to import; Agg needs no display.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_results(results: Sequence[SimResult], gpus: float, cpus: float, out_dir: str | Path) -> list[Path]:
    """Writes ``jct_cdf.png`` and ``utilisation.png`` into ``out_dir``; returns their paths.

    Args:
        results: One result per policy.
        gpus: GPU capacity of the cluster, GPUs.
        cpus: CPU capacity of the cluster, CPUs.
        out_dir: Folder to write to (created).
    """
    plt = _pyplot()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 4))
    for r in results:
        jct = np.sort(np.asarray(r.jct_s))
        ax.plot(jct / 3600, np.arange(1, jct.size + 1) / max(jct.size, 1), label=r.policy)
    ax.set_xscale("log")
    ax.set_xlabel("job completion time (hours)")
    ax.set_ylabel("fraction of jobs")
    ax.legend()
    ax.grid(alpha=0.3)
    cdf = out / "jct_cdf.png"
    fig.tight_layout()
    fig.savefig(cdf, dpi=120)
    plt.close(fig)

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 5), sharex=True)
    for r in results:
        s = np.asarray(r.samples) if r.samples else np.zeros((0, 4))
        days = s[:, 0] / 86400
        top.step(days, s[:, 1] / max(gpus, 1), where="post", label=r.policy, lw=0.8)
        bottom.step(days, s[:, 3] / max(cpus, 1), where="post", label=r.policy, lw=0.8)
    top.set_ylabel("busy GPUs / GPUs")
    bottom.set_ylabel("allocated CPUs / CPUs")
    bottom.set_xlabel("time (days)")
    top.legend(fontsize=8)
    util = out / "utilisation.png"
    fig.tight_layout()
    fig.savefig(util, dpi=120)
    plt.close(fig)
    return [cdf, util]
