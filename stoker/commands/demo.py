"""``stoker demo``: the main job end to end on the local backend."""

from __future__ import annotations

import argparse

from stoker.commands._args import int_between, non_negative_int, positive_int, workers_or_auto, writable_dir
from stoker.errors import InputError

MAX_IMAGES = 100_000  # about 3 GB of JPEGs


def _run(args: argparse.Namespace) -> int:
    from stoker.demo import render, run

    if args.batch_size > args.images:
        # Batches drop their last partial one: an epoch would have no batch and the demo no step, forever.
        raise InputError(f"--batch-size {args.batch_size} exceeds --images {args.images}; lower it or raise --images")
    writable_dir(args.data, "--data")
    if args.threads < 0:
        raise InputError(f"--threads {args.threads} should be >= 0 (0 keeps torch's default of one per core)")
    report = run(
        args.data,
        steps=args.steps,
        images=args.images,
        batch_size=args.batch_size,
        seed=args.seed,
        workers=args.workers,
        threads=args.threads or None,
    )
    print(render(report))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="train a small CNN on real JPEGs with autoscaled data workers")
    p.add_argument("--data", default="stoker-demo", help="folder for the generated JPEGs (default: ./stoker-demo)")
    p.add_argument("--steps", type=positive_int, default=300)
    # Each image is a ~30 KB file written to --data: a bound keeps a typo from filling the disk.
    p.add_argument(
        "--images", type=int_between(1, MAX_IMAGES), default=512, help=f"JPEGs to generate (<= {MAX_IMAGES})"
    )
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--workers", type=workers_or_auto, default="auto", help="'auto' or a worker count")
    p.add_argument("--seed", type=non_negative_int, default=0)
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads of the trainer process (default 1, so it does not fight the data workers; 0: torch's default)",
    )
    p.set_defaults(func=_run)
