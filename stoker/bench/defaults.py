"""An ImageFolder + transforms pipeline at torch's DataLoader defaults: stoker.DataLoader against torch's.

Both loaders get the same arguments a training script passes: ``batch_size=64, shuffle=True,
num_workers=2`` and nothing else, so ``persistent_workers=False``: every epoch starts fresh workers
(torch forks them from the trainer; stoker forks them from a template forked from the trainer,
see :mod:`stoker.backends.template`). The data set is :class:`~stoker.bench._imagefolder.ImageFolder`
over 500x375 JPEGs with random-resized-crop to 224, flip and uint8 CHW, drawing from the global
torch RNG as torchvision's transforms do. Each run builds its loader and iterates ``--epochs``
epochs; the clock runs from building the loader. Rounds are interleaved, figures are medians.
Last stdout line: ``{"torch": {"sps_from_build", "first_batch_s", "epoch_first_batch_s"},
"stoker": {...}, "sps_ratio": x, "first_batch_ratio": x, "machine": {...}}`` where
``first_batch_s`` is the first epoch's and ``epoch_first_batch_s`` the median over later epochs, and
the ratios (stoker / torch) are taken within each round, then their median.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import torch

from stoker.bench._imagefolder import ImageFolder, make_image_folder, train_transform
from stoker.bench._util import bench_dir, emit, machine
from stoker.commands._args import positive_int

SYSTEMS = ("torch", "stoker")


@dataclass
class Run:
    """One run: seconds from building to the end, and from each ``iter()`` to its first batch."""

    seconds: float = 0.0
    first_batch: list[float] = field(default_factory=list)
    samples: int = 0


def _loader(system: str, dataset: Any, batch_size: int, workers: int) -> Any:
    if system == "torch":
        return torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers)
    import stoker

    return stoker.DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers)


def run_once(system: str, root: str, epochs: int, batch_size: int, workers: int) -> Run:
    """Builds the loader and iterates ``epochs`` epochs, timing each epoch's first batch."""
    run = Run()
    t0 = time.perf_counter()
    loader = _loader(system, ImageFolder(root, train_transform()), batch_size, workers)
    for _ in range(epochs):
        started = time.perf_counter()
        for i, (x, _y) in enumerate(loader):
            if i == 0:
                run.first_batch.append(time.perf_counter() - started)
            run.samples += int(x.shape[0])
    run.seconds = time.perf_counter() - t0
    return run


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="stoker bench defaults", description=__doc__)
    p.add_argument("--quick", action="store_true", help="3 rounds over 512 images (about a minute idle)")
    p.add_argument("--images", type=positive_int, default=None, help="JPEGs in the folder (default 1000, quick 512)")
    p.add_argument("--rounds", type=positive_int, default=None)
    p.add_argument("--epochs", type=positive_int, default=3)
    p.add_argument("--workers", type=positive_int, default=2)
    p.add_argument("--batch-size", type=positive_int, default=64)
    args = p.parse_args(argv)
    host = machine()
    images = args.images or (512 if args.quick else 1000)
    rounds = args.rounds or (3 if args.quick else 5)
    root = make_image_folder(bench_dir(f"imagefolder-{images}"), images)
    print(
        f"stoker bench defaults: ImageFolder of {images} JPEGs 500x375, batch {args.batch_size}, "
        f"num_workers={args.workers}, persistent_workers=False, {args.epochs} epochs, {rounds} interleaved rounds",
        flush=True,
    )
    runs: dict[str, list[Run]] = {s: [] for s in SYSTEMS}
    for r in range(rounds):
        for system in SYSTEMS:
            run = run_once(system, root, args.epochs, args.batch_size, args.workers)
            runs[system].append(run)
            firsts = " ".join(f"{t:.2f}" for t in run.first_batch)
            print(
                f"  round {r + 1}/{rounds} {system:>6}: {run.samples / run.seconds:7.1f} samples/s from building, "
                f"first batch per epoch {firsts} s",
                flush=True,
            )
    out: dict[str, Any] = {}
    for system in SYSTEMS:
        out[system] = {
            "sps_from_build": round(statistics.median(r.samples / r.seconds for r in runs[system]), 1),
            "first_batch_s": round(statistics.median(r.first_batch[0] for r in runs[system]), 3),
            "epoch_first_batch_s": round(statistics.median(t for r in runs[system] for t in r.first_batch[1:]), 3)
            if args.epochs > 1
            else None,
        }
    # Ratios within a round (the two ran back to back, under the same load), then their median.
    pairs = list(zip(runs["stoker"], runs["torch"]))
    sps = statistics.median((s.samples / s.seconds) / (t.samples / t.seconds) for s, t in pairs)
    first = statistics.median(s.first_batch[0] / t.first_batch[0] for s, t in pairs)
    print(
        f"stoker / torch (median of per-round ratios): {sps:.2f}x samples/s from building; "
        f"first batch {first:.2f}x torch's time"
    )
    emit({**out, "sps_ratio": round(sps, 3), "first_batch_ratio": round(first, 3)}, host)
    return 0
