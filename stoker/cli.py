"""The ``stoker`` command line.

Each subcommand lives in its own module under :mod:`stoker.commands` and exposes
``register(subparsers)``; this file only lists them, so adding a command never edits
another command's code. ``stoker bench NAME`` runs :mod:`stoker.bench.NAME`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from stoker.errors import InputError

# One module per subcommand; each defines register(subparsers) -> None.
COMMAND_MODULES: tuple[str, ...] = (
    "stoker.commands.demo",
    "stoker.commands.bench",
    "stoker.commands.plan",
    "stoker.commands.train",
    "stoker.commands.simulate",
    "stoker.commands.cluster",
    "stoker.commands.top",
    "stoker.commands.dashboard",
    "stoker.commands.report",
    "stoker.commands.data",
)


def build_parser() -> argparse.ArgumentParser:
    """Builds the top-level parser with every registered subcommand."""
    parser = argparse.ArgumentParser(prog="stoker", description="stoker keeps accelerators fed.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``stoker`` console script.

    Returns:
        The process exit status.
    """
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if rest and not getattr(args, "accepts_rest", False):
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if getattr(args, "accepts_rest", False):
        args.rest = rest
    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        # Bad input is the user's to fix: one line and status 2, never a traceback.
        print(f"stoker {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
