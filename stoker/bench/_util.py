"""Helpers shared by the benchmarks: the machine line, interleaved repeats, medians, the JSON last line."""

from __future__ import annotations

import json
import os
import statistics
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

from stoker.system import cpu_count


@dataclass(frozen=True)
class Machine:
    """What a benchmark ran on, taken when it starts.

    Attributes:
        cores: CPUs this process may use.
        load_avg: The OS's 1, 5 and 15-minute load averages (runnable processes) at the start.
    """

    cores: int
    load_avg: tuple[float, float, float]

    def describe(self) -> str:
        one, five, fifteen = self.load_avg
        return f"machine: {self.cores} cores, load average {one:.2f} {five:.2f} {fifteen:.2f} (1/5/15 min) at start"


def machine(log: Callable[[str], None] = print) -> Machine:
    """Records and prints the machine a benchmark starts on; call it first, pass it to :func:`emit`.

    Figures from a shared machine mean little without its load: a load average above the core count
    means other processes were competing for every CPU the benchmark used.
    """
    one, five, fifteen = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    m = Machine(cpu_count(), (round(one, 2), round(five, 2), round(fifteen, 2)))
    log(m.describe())
    return m


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


def emit(obj: dict[str, Any], machine: Machine) -> None:
    """Prints the benchmark's last stdout line: one JSON object, with the machine under ``"machine"``."""
    print(json.dumps({**obj, "machine": asdict(machine)}), flush=True)


@contextmanager
def user_seeded(index: int) -> Iterator[None]:
    """A baseline's per-sample RNG key, drawn from the process's torch RNG as a user's augmentation is.

    torch's DataLoader seeds each worker's torch RNG from a base seed it draws at every ``iter()``,
    and a persistent worker's RNG runs on from one epoch to the next; Ray Data's workers are not
    seeded at all. So a baseline that draws its key here serves new augmentation every epoch, as a
    user's pipeline does (a fixed key of epoch 0 would serve the same crops every epoch, a cache's
    dream). The global RNGs are left alone (``reseed=False``): they belong to the worker.

    Args:
        index: The sample's index (the key's third part).
    """
    import torch

    from stoker.data.rng import seeded

    with seeded(0, int(torch.randint(1 << 62, ())), index, reseed=False):
        yield
