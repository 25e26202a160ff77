"""The cost-aware cut on a real JPEG program: bytes that cross, and training throughput per cut.

The program: JPEG decode + random-resized-crop + flip to a uint8 64x64 tensor in the pipeline;
a CNN whose forward first takes the centre 56x56, then casts, scales and normalises with
constant buffers. Three cuts are compared side by side: ``nothing`` (unsplit: the pipeline's
uint8 batch crosses), ``fewest_bytes`` (default: the crop moves, the cast stays) and
``all_stateless`` (the naive rule: the float32 batch crosses). Each trains ``--steps`` steps
through ``stoker.Loader(plan, workers=W)``; ``--repeats`` rounds (5 with ``--quick``) are interleaved
(every cut once per round), medians reported with their min-max. Last stdout line:
``{"bytes_per_sample": {...}, "samples_per_s": {...}, "samples_per_s_range": {...},
"naive_over_chosen_bytes": r, ...}``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial

import torch
from torch import nn

import stoker
from stoker.bench._util import bench_dir, emit, interleaved, machine
from stoker.commands._args import positive_int
from stoker.demo import SmallCNN, decode_crop
from stoker.sample_data import make_jpeg_folder

CUTS = ("nothing", "fewest_bytes", "all_stateless")


def _train(plan: stoker.Plan, opt: torch.optim.Optimizer, workers: int, steps: int, bs: int) -> float:
    """Samples/s over ``steps`` training steps after one warm-up step."""
    with stoker.Loader(plan, workers=workers, seed=0) as loader:
        it = iter(loader)
        done = -1
        t0 = time.perf_counter()
        while done < steps:
            try:
                received = next(it)
            except StopIteration:
                it = iter(loader)
                continue
            loss = plan.train_module(*received)
            opt.zero_grad()
            loss.backward()
            opt.step()
            done += 1
            if done == 0:
                t0 = time.perf_counter()
        return steps * bs / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="stoker bench partition", description=__doc__)
    p.add_argument("--quick", action="store_true", help="short run: 128 images, 8 steps per cut per round")
    p.add_argument("--workers", type=positive_int, default=2)
    p.add_argument("--images", type=positive_int, default=None)
    p.add_argument("--steps", type=positive_int, default=None)
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--repeats", type=positive_int, default=None, help="interleaved rounds (default 5)")
    args = p.parse_args(argv)
    host = machine()
    images = args.images or (128 if args.quick else 512)
    steps = args.steps or (8 if args.quick else 30)
    repeats = args.repeats or 5
    torch.manual_seed(0)
    paths = make_jpeg_folder(bench_dir("partition"), images, seed=0)
    pipe = stoker.from_files(paths).shuffle(seed=0).map(decode_crop).batch(args.batch_size, drop_last=True)
    plans: dict[str, stoker.Plan] = {}
    opts: dict[str, torch.optim.Optimizer] = {}
    for cut in CUTS:
        model = SmallCNN()
        plans[cut] = stoker.partition(pipe, model, nn.functional.cross_entropy, objective=cut, workers=args.workers)
        opts[cut] = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    print(plans["fewest_bytes"].explain())
    sizes = {cut: plans[cut].chosen.bytes_per_sample for cut in CUTS}
    for cut in CUTS:
        print(f"{cut:>14}: {sizes[cut]:>9,.0f} B/sample cross, {len(plans[cut].chosen.moved)} nodes moved")
    runs: dict[str, Callable[[], float]] = {
        cut: partial(_train, plans[cut], opts[cut], args.workers, steps, args.batch_size) for cut in CUTS
    }
    rounds: dict[str, list[float]] = {cut: [] for cut in CUTS}

    def keep(cut: str, run: Callable[[], float]) -> Callable[[], float]:
        def timed() -> float:
            rounds[cut].append(run())
            return rounds[cut][-1]

        return timed

    sps = interleaved({cut: keep(cut, run) for cut, run in runs.items()}, repeats)
    spans = {cut: [min(v), max(v)] for cut, v in rounds.items()}
    for cut in CUTS:
        print(
            f"{cut:>14}: median {sps[cut]:8.1f} samples/s over {repeats} rounds (min-max {spans[cut][0]:.1f}-{spans[cut][1]:.1f})"
        )
    emit(
        {
            "workers": args.workers,
            "bytes_per_sample": sizes,
            "naive_over_chosen_bytes": sizes["all_stateless"] / sizes["fewest_bytes"],
            "unsplit_over_chosen_bytes": sizes["nothing"] / sizes["fewest_bytes"],
            "moved": {cut: sorted(plans[cut].chosen.moved) for cut in CUTS},
            "samples_per_s": sps,
            "samples_per_s_range": spans,
            "steps": steps,
            "repeats": repeats,
        },
        host,
    )
    return 0
