"""Time and memory to the first batch of a data set whose length is virtual (1e8 samples).

Each case runs in a fresh process (so its peak resident memory is its own): build the loader,
take one batch of 32, report the seconds from building to that batch and the growth of peak
resident memory over the process after its imports. Cases: torch's ``DataLoader`` (the
yardstick), ``stoker.DataLoader`` and ``stoker.Loader`` unshuffled, and ``stoker.Loader``
shuffled (a keyed Feistel permutation, evaluated per split). ``workers=0`` everywhere, so the
figures are the epoch's set-up, not process start-up.

Usage: ``python benchmarks/first_batch.py [--quick] [--length N]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from stoker.bench._util import emit, machine

CASES = ("torch", "stoker_dataloader", "stoker_loader", "stoker_loader_shuffled")

_CHILD = """
import json, resource, sys, time
import torch
import stoker

class Virtual(torch.utils.data.Dataset):
    def __len__(self):
        return {length}
    def __getitem__(self, i):
        return i

case = {case!r}
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
if case == "torch":
    batch = next(iter(torch.utils.data.DataLoader(Virtual(), batch_size=32)))
elif case == "stoker_dataloader":
    batch = next(iter(stoker.DataLoader(Virtual(), batch_size=32, num_workers=0)))
else:
    pipe = stoker.from_dataset(Virtual())
    pipe = (pipe.shuffle(0) if case.endswith("shuffled") else pipe).batch(32)
    batch = next(iter(stoker.Loader(pipe, workers=0)))
seconds = time.perf_counter() - t0
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base
print(json.dumps({{"seconds": seconds, "peak_rss_growth_mib": grown / 1024, "batch": len(batch)}}))
"""


def run_case(case: str, length: int) -> dict[str, float]:
    """Runs one case in a fresh interpreter; returns its seconds and peak memory growth (MiB)."""
    out = subprocess.run(
        [sys.executable, "-c", _CHILD.format(case=case, length=length)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="benchmarks/first_batch.py", description=__doc__)
    p.add_argument("--quick", action="store_true", help="one run per case (default three)")
    p.add_argument("--length", type=int, default=100_000_000, help="virtual length of the data set (samples)")
    args = p.parse_args(argv)
    if args.length < 32:
        print(f"--length {args.length} should be at least one batch (32)", file=sys.stderr)
        return 2
    m = machine()
    runs = 1 if args.quick else 3
    results: dict[str, list[dict[str, float]]] = {case: [] for case in CASES}
    for r in range(runs):  # interleaved rounds spread the machine's noise over every case
        for case in CASES:
            res = run_case(case, args.length)
            results[case].append(res)
            print(f"  round {r + 1}/{runs} {case:>24}: {res['seconds']:.3f} s, +{res['peak_rss_growth_mib']:.1f} MiB")
    summary = {
        case: {
            "seconds_median": sorted(x["seconds"] for x in rs)[len(rs) // 2],
            "peak_rss_growth_mib_max": max(x["peak_rss_growth_mib"] for x in rs),
        }
        for case, rs in results.items()
    }
    emit({"benchmark": "first_batch", "length": args.length, "runs": runs, "cases": summary}, m)
    return 0
