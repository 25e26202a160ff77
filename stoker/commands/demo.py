"""``stoker demo``: the main job end to end on the local backend."""

from __future__ import annotations

import argparse

from stoker.commands._args import positive_int, workers_or_auto, writable_dir
from stoker.errors import InputError


def _run(args: argparse.Namespace) -> int:
    from stoker.demo import render, run

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
    p.add_argument("--images", type=positive_int, default=512)
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--workers", type=workers_or_auto, default="auto", help="'auto' or a worker count")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads of the trainer process (default 1, so it does not fight the data workers; 0: torch's default)",
    )
    p.set_defaults(func=_run)
