"""``stoker demo``: the main job end to end on the local backend."""

from __future__ import annotations

import argparse


def _run(args: argparse.Namespace) -> int:
    raise SystemExit("stoker demo: not built yet")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="train a small CNN on real JPEGs with autoscaled data workers")
    p.set_defaults(func=_run)
