"""Memory of the data workers: torch's DataLoader against stoker on a pipeline of the suite.

Each round builds each loader in turn (``torch.utils.data.DataLoader`` with persistent workers, as
in ``stoker bench pipelines``, and ``stoker.Loader`` with its default template workers), reads
``--epochs`` epochs, then takes, before closing it, the unique set size (USS: memory no other
process shares) of every process the loader started and the proportional set size (PSS) of the
whole tree, trainer included. A forked worker starts sharing all of the trainer's pages; what it
copies (its own allocations, and any page the garbage collector touches) becomes private. Rounds
are interleaved; figures are medians.

Before the rounds the trainer reads one sample through the pipeline's functions, as a user who
checks the data first does, so the modules those functions import lazily (scipy in the sensor
pipeline) are the trainer's, as a top-level import would make them: otherwise each worker's own
import of them would dominate the figure. multiprocessing's resource tracker, which lives as long
as the trainer whoever starts it, is started first and left out of both.

Last line: ``{"pipeline": name, "dataloader": {"children_uss_mib": x, "tree_pss_mib": x},
"stoker": {...}, "uss_ratio": stoker / DataLoader, "pss_ratio": x, "machine": {...}}``.
"""

from __future__ import annotations

import argparse
import statistics
from multiprocessing import resource_tracker
from typing import Any

import psutil

from stoker.bench._memory import MIB, Footprint, footprint
from stoker.bench._util import emit, machine
from stoker.bench.pipelines.bench import quick_samples
from stoker.bench.pipelines.suite import build_case, case_names

SYSTEMS = ("dataloader", "stoker")


def first_sample(pipe: Any) -> None:
    """Runs sample 0 through the pipeline's per-sample functions in this process, under its key."""
    from stoker.bench.pipelines._base import OpsDataset

    OpsDataset(pipe)[0]


def _loader(system: str, case: Any, workers: int) -> Any:
    if system == "dataloader":
        from stoker.bench.pipelines._base import dataloader

        return dataloader(case.pipeline, workers)
    import stoker

    return stoker.Loader(case.pipeline, workers=workers, seed=0)


def run_once(system: str, case: Any, epochs: int, workers: int) -> Footprint:
    """Builds ``system``'s loader, reads ``epochs`` epochs, measures, and releases its workers."""
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    loader = _loader(system, case, workers)
    try:
        for _ in range(epochs):
            for _batch in loader:
                pass
        return footprint(before)
    finally:
        close = getattr(loader, "close", None)
        if close is not None:
            close()
        else:  # torch's DataLoader: its persistent iterator ends its workers when dropped
            loader._iterator = None
        del loader


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="stoker bench worker_memory", description=__doc__)
    p.add_argument("--quick", action="store_true", help="3 rounds, 256 samples per epoch (under a minute idle)")
    p.add_argument("--pipeline", default="sensor", help=f"one of {case_names()}")
    p.add_argument("--rounds", type=int, default=None, help="interleaved rounds (>= 1)")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args(argv)
    rounds = args.rounds if args.rounds is not None else (3 if args.quick else 5)
    if rounds < 1 or args.epochs < 1 or args.workers < 1:
        p.error(f"--rounds {rounds}, --epochs {args.epochs} and --workers {args.workers} should be >= 1")
    if args.pipeline not in case_names():
        p.error(f"unknown pipeline {args.pipeline!r}; choose from {case_names()}")
    host = machine()
    case = build_case(args.pipeline)
    if args.quick:
        case = case.subset(quick_samples(args.pipeline))
    first_sample(case.pipeline)
    resource_tracker.ensure_running()
    print(
        f"stoker bench worker_memory: {args.pipeline} ({len(case.pipeline)} samples/epoch), {args.workers} workers, "
        f"{args.epochs} epochs, {rounds} interleaved rounds",
        flush=True,
    )
    runs: dict[str, list[Footprint]] = {s: [] for s in SYSTEMS}
    for r in range(rounds):
        for system in SYSTEMS:
            fp = run_once(system, case, args.epochs, args.workers)
            runs[system].append(fp)
            print(
                f"  round {r + 1}/{rounds} {system:>10}: {fp.processes} processes, private (USS) "
                f"{fp.children_uss / MIB:6.1f} MiB, trainer + workers PSS {fp.tree_pss / MIB:6.1f} MiB",
                flush=True,
            )
    out: dict[str, Any] = {"pipeline": args.pipeline}
    for system in SYSTEMS:
        out[system] = {
            "children_uss_mib": round(statistics.median(f.children_uss for f in runs[system]) / MIB, 1),
            "tree_pss_mib": round(statistics.median(f.tree_pss for f in runs[system]) / MIB, 1),
        }
    pairs = list(zip(runs["stoker"], runs["dataloader"]))
    out["uss_ratio"] = round(statistics.median(s.children_uss / d.children_uss for s, d in pairs), 3)
    out["pss_ratio"] = round(statistics.median(s.tree_pss / d.tree_pss for s, d in pairs), 3)
    print(
        f"stoker / DataLoader (median of per-round ratios): private memory of the started processes "
        f"{out['uss_ratio']:.2f}x, trainer + workers PSS {out['pss_ratio']:.2f}x"
    )
    emit(out, host)
    return 0
