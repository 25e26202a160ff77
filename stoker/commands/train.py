"""``stoker train ...``: training recipes, one subcommand module each.

Listed in ``TRAIN_COMMANDS`` like the top-level commands in :mod:`stoker.cli`; each module
defines ``register(subparsers)``.
"""

from __future__ import annotations

import argparse
import importlib

TRAIN_COMMANDS: tuple[str, ...] = ("stoker.commands.train_ps",)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train with stoker (stoker train ps --help)")
    inner = p.add_subparsers(dest="train_command", metavar="RECIPE")
    for name in TRAIN_COMMANDS:
        importlib.import_module(name).register(inner)
