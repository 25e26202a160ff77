"""The pipeline suite through DataLoader, stoker, and stoker with ``optimize=True``.

For each pipeline (see :mod:`stoker.bench.pipelines.suite`), every round runs three configs one
after the other, each with 2 worker processes and the trainer (which only takes the batches) in
the main process, for ``--epochs`` epochs:

All three start their workers by fork (see ``START``).

- ``dataloader``: ``torch.utils.data.DataLoader`` over the same functions (persistent workers,
  prefetch 2, shuffled, each epoch's samples keyed by that epoch so augmentations re-randomise,
  see :class:`~stoker.bench.pipelines._base.EpochSampler`);
- ``stoker``: ``stoker.Loader(pipe, workers=2)``;
- ``optimized``: ``stoker.Loader(pipe, workers=2, optimize=True)``: the optimiser probes and
  rewrites the pipeline inside the timed region, with a fresh cache every round (removed after).

The clock runs from building the loader to the last batch of the last epoch; samples/s counts
source samples (a filtered sample counts: it was read). Rounds are interleaved; figures are
medians. Every config keeps an epoch's batches; at the epoch's end the clock stops while they
are digested (CRC-32 of every byte, :mod:`~stoker.bench.pipelines.digest`) and dropped, and
restarts when the next epoch is asked for (no loader starts an epoch before ``iter()``, so the
pause gives none of them free work). ``identical`` is true when, in every round, the optimized
run's batches equal the stoker run's, epoch by epoch, bit for bit. Last stdout line:
``{"pipelines": {"name": {"dataloader_sps": x, "stoker_sps": x, "optimized_sps": x,
"identical": true}}, "geomean_vs_dataloader": x, "machine": {...}}`` (``machine``: cores and load
average at the start, as every benchmark reports).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stoker.bench._util import emit, machine
from stoker.bench.pipelines._base import Case, dataloader
from stoker.bench.pipelines.digest import digest
from stoker.bench.pipelines.suite import build_case, case_names

CONFIGS = ("dataloader", "stoker", "optimized")
# All three fork their workers from the trainer (DataLoader's start method on Linux): a
# forkserver worker would import the pipeline's modules (scipy, tokenizers, pyarrow) afresh,
# a one-off cost per Loader that a training job pays once and a 5-epoch run would overstate.
START = "fork"
QUICK_SAMPLES = {"tabular": 8192}  # samples per epoch under --quick (others: QUICK_DEFAULT)
QUICK_DEFAULT = 256


def quick_samples(name: str) -> int:
    """Samples per epoch of pipeline ``name`` under ``--quick`` (every benchmark of the suite uses it)."""
    return QUICK_SAMPLES.get(name, QUICK_DEFAULT)


@dataclass
class Run:
    """One timed run: seconds per epoch (the first includes building the loader), batch digests per epoch.

    Attributes:
        epochs: Seconds per epoch.
        digests: ``digests[e]`` are the digests of epoch ``e``'s batches, in order.
        explain: The optimiser's report (optimized runs).
    """

    epochs: list[float]
    digests: list[list[int]] = field(default_factory=list)
    explain: str = ""

    def sps(self, samples: int) -> float:
        return samples * len(self.epochs) / sum(self.epochs)

    def first_sps(self, samples: int) -> float:
        return samples / self.epochs[0]

    def later_sps(self, samples: int) -> float:
        return samples * (len(self.epochs) - 1) / sum(self.epochs[1:]) if len(self.epochs) > 1 else math.nan


def _epochs(make: Callable[[], Any], epochs: int, close: Callable[[Any], str]) -> Run:
    t0 = time.perf_counter()
    loader = make()
    run = Run([])
    try:
        for _ in range(epochs):
            held = list(loader)
            run.epochs.append(time.perf_counter() - t0)
            run.digests.append([digest(b) for b in held])  # off the clock (see the module docstring)
            del held
            t0 = time.perf_counter()
    finally:
        run.explain = close(loader)
    return run


def _run(config: str, case: Case, epochs: int, workers: int) -> Run:
    import stoker

    if config == "dataloader":
        return _epochs(lambda: dataloader(case.pipeline, workers), epochs, lambda dl: "")
    opt = config == "optimized"

    def close(loader: Any) -> str:
        loader.close()
        report = loader.optimize_report
        if report is None:
            return ""
        report.close()  # a fresh cache every round
        return report.explain()

    return _epochs(
        lambda: stoker.Loader(case.pipeline, workers=workers, seed=0, optimize=opt, mp_context=START), epochs, close
    )


def _warm_up(workers: int) -> None:
    """Starts stoker's forkserver once (it preloads torch), as a training job would have."""
    import stoker

    with stoker.Loader(stoker.from_items(list(range(8))).batch(4), workers=workers, mp_context=START) as loader:
        for _ in loader:
            pass


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="stoker bench pipelines", description=__doc__)
    p.add_argument("--quick", action="store_true", help="3 rounds, fewer samples per epoch (about 5 minutes idle)")
    p.add_argument("--rounds", type=int, default=None, help="interleaved rounds (>= 1)")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--pipelines", nargs="+", default=case_names(), metavar="NAME", help=f"of {case_names()}")
    args = p.parse_args(argv)
    rounds = args.rounds if args.rounds is not None else (3 if args.quick else 5)
    if rounds < 1 or args.epochs < 1 or args.workers < 1:
        p.error(f"--rounds {rounds}, --epochs {args.epochs} and --workers {args.workers} should be >= 1")
    unknown = sorted(set(args.pipelines) - set(case_names()))
    if unknown:
        p.error(f"unknown pipelines {unknown}; choose from {case_names()}")
    host = machine()
    load = os.getloadavg()
    print(
        f"stoker bench pipelines: {len(args.pipelines)} pipelines x {args.epochs} epochs, {args.workers} workers, "
        f"{rounds} interleaved rounds; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
        flush=True,
    )
    cases = {name: build_case(name) for name in args.pipelines}
    if args.quick:
        cases = {name: c.subset(quick_samples(name)) for name, c in cases.items()}
    _warm_up(args.workers)
    out: dict[str, dict[str, Any]] = {}
    ratios = []
    for name, case in cases.items():
        n = len(case.pipeline)
        print(f"\n== {name}: {case.about}; {n} samples/epoch", flush=True)
        runs: dict[str, list[Run]] = {c: [] for c in CONFIGS}
        for r in range(rounds):
            for config in CONFIGS:
                run = _run(config, case, args.epochs, args.workers)
                runs[config].append(run)
                print(
                    f"  round {r + 1}/{rounds} {config:>10}: {run.sps(n):8.1f} sps "
                    f"(epoch 1 {run.first_sps(n):8.1f}, epochs 2-{args.epochs} {run.later_sps(n):8.1f})",
                    flush=True,
                )
        same = all(o.digests == p.digests for o, p in zip(runs["optimized"], runs["stoker"]))
        print(
            f"{runs['optimized'][0].explain}\n  {name} identical (optimized vs stoker, every epoch of every round): {same}"
        )
        med = {c: statistics.median(x.sps(n) for x in runs[c]) for c in CONFIGS}
        first = {c: statistics.median(x.first_sps(n) for x in runs[c]) for c in CONFIGS}
        later = {c: statistics.median(x.later_sps(n) for x in runs[c]) for c in CONFIGS}
        for label, fig in (("epoch 1", first), (f"epochs 2-{args.epochs}", later), ("all", med)):
            print(
                f"  {name} {label:>11}: DataLoader {fig['dataloader']:8.1f}, stoker {fig['stoker']:8.1f}, "
                f"optimized {fig['optimized']:8.1f} sps ({fig['optimized'] / fig['dataloader']:.2f}x DataLoader)"
            )
        ratios.append(med["optimized"] / med["dataloader"])
        out[name] = {
            "dataloader_sps": round(med["dataloader"], 1),
            "stoker_sps": round(med["stoker"], 1),
            "optimized_sps": round(med["optimized"], 1),
            "identical": same,
        }
    geomean = math.exp(statistics.fmean(math.log(r) for r in ratios))
    load = os.getloadavg()
    print(f"\ngeomean optimized / DataLoader: {geomean:.2f}x; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    emit({"pipelines": out, "geomean_vs_dataloader": round(geomean, 3)}, host)
    return 0
