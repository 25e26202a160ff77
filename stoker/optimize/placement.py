"""Placement: which operators could run on threads, and where the cheapest cut to the trainer is.

Two measurements on the probe samples, reported for every pipeline:

- GIL release: each operator runs on two threads at once and one after the other; an operator
  whose two-thread run is at least 1.5x faster releases the GIL (JPEG decode, tokenizers, numpy,
  torch kernels) and could run on threads instead of processes, saving a process's memory and
  the transport copy. It pays only with idle cores beyond the worker processes, so the rewrite
  is applied only where ``os.sched_getaffinity`` shows more cores than ``workers`` would use;
  stoker's Loader runs processes, so here it is reported, not applied.
- The cost-aware cut: the bytes per sample after each operator; the smallest point is where
  :func:`stoker.partition` would cut to send the least to the trainer (a ``uint8`` image before a
  ``float32`` normalisation moves 4x fewer bytes).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from stoker.optimize.base import Context, Rewrite
from stoker.optimize.probe import GONE
from stoker.optimize.values import fresh_copy

NAME = "placement"
RELEASES_GIL = 1.5  # two threads at least this much faster than serial


def _speedup(fn: Any, value: Any) -> float:
    """Serial time / two-thread time for two calls of ``fn`` on ``value``."""

    def one() -> None:
        fn(fresh_copy(value))  # an op may write into its input; the probe's values stay intact

    one()  # warm (lazy initialisation)
    t0 = time.perf_counter()
    one()
    one()
    serial = time.perf_counter() - t0
    threads = [threading.Thread(target=one) for _ in range(2)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    parallel = time.perf_counter() - t0
    return serial / parallel if parallel > 0 else 1.0


def _released(ops: list[Any], values: list[list[Any]], facts: list[Any]) -> str:
    """The operators measured to release the GIL, as text."""
    gil: list[str] = []
    for k, (op, f) in enumerate(zip(ops, facts)):
        live = [v for v in values[k] if v is not GONE]
        if not live or f.uses_rng or f.cost_s < 1e-4:
            continue  # RNG users share the sample's generator; tiny ops do not pay a thread
        try:
            ratio = _speedup(op.fn, live[0])
        except Exception:
            continue
        if ratio >= RELEASES_GIL:
            gil.append(f"{op.name} ({ratio:.1f}x on 2 threads)")
    return ", ".join(gil) if gil else "none measured"


def apply(ctx: Context) -> list[Rewrite]:
    p = ctx.probe
    sizes = [(f.name, f.out_bytes) for f in p.ops if f.kind == "map"]
    smallest = min(sizes, key=lambda s: s[1]) if sizes else None
    cut = f"fewest bytes after {smallest[0]!r} ({smallest[1] / 1e3:.1f} kB/sample)" if smallest else "no map"
    ops, values, facts = list(ctx.chain.sample_ops), p.values, p.ops
    return [
        Rewrite(
            NAME,
            False,
            True,
            "keep every op in the worker processes",
            f"cost-aware cut: {cut}. Threads pay only with cores beyond the workers, and moving ops to the "
            f"trainer changes what the Loader yields (use stoker.partition)",
            # Report-only, so the GIL measurement (each op run 5 more times) waits until the report is
            # read instead of delaying the first batch.
            detail=lambda: f"; ops releasing the GIL: {_released(ops, values, facts)}",
        )
    ]
