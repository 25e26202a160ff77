"""``stoker bench NAME [ARGS...]``: runs the benchmark module :mod:`stoker.bench.NAME`.

The scripts in ``benchmarks/`` are thin wrappers over the same modules, so
``python benchmarks/loader.py --quick`` and ``stoker bench loader --quick`` are one program.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil

import stoker.bench
from stoker.errors import InputError


def available() -> list[str]:
    """Names of the benchmarks that ``stoker bench`` can run."""
    return sorted(m.name for m in pkgutil.iter_modules(stoker.bench.__path__) if not m.name.startswith("_"))


def _run(args: argparse.Namespace) -> int:
    names = available()
    if args.name not in names:
        raise InputError(f"unknown benchmark {args.name!r}; choose one of {names}")
    module = importlib.import_module(f"stoker.bench.{args.name}")
    return int(module.main(args.rest) or 0)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="run a benchmark (stoker bench NAME --help)", add_help=False)
    p.add_argument("name", help=f"one of: {', '.join(available())}")
    p.set_defaults(func=_run, accepts_rest=True)
