"""Prints, per corpus program, how it was captured, what moved and the bytes per sample that cross.

``python -m tests.corpus.report [program ...]`` (default: every program of both corpora). The
figures are exact (sizes of the values that cross, per sample), from the plan's own candidates:
the unsplit program (nothing moved) against the chosen cut (``fewest_bytes``, 2 workers).
"""

from __future__ import annotations

import importlib
import sys
import warnings

import stoker
from tests.integration.graph.test_corpus import PROGRAMS as FIRST
from tests.integration.graph.test_corpus_hf import PROGRAMS as SECOND


def row(name: str) -> str:
    case = importlib.import_module(f"tests.corpus.{name}").case()
    carry = stoker.carry(**case.carry_init(case.model)) if case.carry_init else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plan = stoker.partition(case.pipe, case.model, case.loss_fn, workers=2, carry=carry, **case.kwargs)
    unsplit = next(c for c in plan.candidates if not c.moved)
    moved = sorted(plan.graph[n].label for n in plan.chosen.moved)
    shown = ", ".join(moved[:4]) + (f", ... ({len(moved)} nodes)" if len(moved) > 4 else "")
    ratio = unsplit.bytes_per_sample / plan.chosen.bytes_per_sample if plan.chosen.bytes_per_sample else 0.0
    naive = plan.naive
    return (
        f"| {name} | {plan.method} ({len(plan.breaks)} break(s)) | {unsplit.bytes_per_sample:,.0f} | "
        f"{plan.chosen.bytes_per_sample:,.0f} | {ratio:.2f}x | {shown or 'nothing'} | "
        f"{len(naive.moved)} nodes, {naive.bytes_per_sample:,.0f} |"
    )


def main(names: list[str]) -> None:
    print(
        "| program | capture | unsplit B/sample | split B/sample | fewer | moved (fewest_bytes) | naive: moved, B/sample |"
    )
    print("|---|---|---|---|---|---|---|")
    for name in names or [*SECOND, *FIRST]:
        print(row(name), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
