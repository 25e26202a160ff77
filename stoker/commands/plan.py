"""``stoker plan FILE.py``: split a training program, print ``explain()`` and draw the plan to a PNG.

FILE.py is run (not as ``__main__``, so its training loop does not start) and must define
``pipe`` (or ``pipeline``) and ``model``, optionally ``loss_fn``, ``example``, ``pin``, ``inputs``,
``target`` and ``carry`` (the arguments of :func:`stoker.partition`); or a
ready ``plan``. The PNG is drawn with matplotlib, so Graphviz need not be installed; ``--dot``
also writes the Graphviz text.
"""

from __future__ import annotations

import argparse
import os
import runpy
import sys
import warnings
from typing import Any

from stoker.commands._args import existing_file, positive_int, writable_file
from stoker.errors import InputError
from stoker.graph.cut.base import OBJECTIVES


def _namespace(path: str) -> dict[str, Any]:
    if not os.path.isfile(path):
        raise InputError(f"{path!r} is not a file; give the path of a Python training script")
    # Like `python FILE.py`: the script's folder comes first, so its sibling modules import.
    folder = os.path.dirname(os.path.abspath(path))
    sys.path.insert(0, folder)
    try:
        return runpy.run_path(path, run_name="__stoker_plan__")
    finally:
        sys.path.remove(folder)


def load_plan(path: str, objective: str = "fewest_bytes", workers: int | None = None) -> Any:
    """The plan a script defines, or the partition of its ``pipe`` and ``model``."""
    from stoker.graph.partition import partition
    from stoker.graph.plan import Plan

    ns = _namespace(path)
    if isinstance(ns.get("plan"), Plan):
        return ns["plan"]
    pipe = ns.get("pipe", ns.get("pipeline"))
    model = ns.get("model")
    if pipe is None or model is None:
        raise InputError(
            f"{path} should define `pipe` (or `pipeline`) and `model` at module level "
            f"(optionally `loss_fn`, `example`, `pin`), or a `plan`; found neither"
        )
    with warnings.catch_warnings():
        # explain() prints a trace failure as its note: the warning would say it a second time.
        warnings.filterwarnings("ignore", message="stoker.partition")
        return partition(
            pipe,
            model,
            ns.get("loss_fn"),
            ns.get("example"),
            pin=ns.get("pin"),
            objective=objective,
            workers=workers,
            inputs=ns.get("inputs"),
            target=ns.get("target"),
            carry=ns.get("carry"),
        )


def _run(args: argparse.Namespace) -> int:
    existing_file(args.file, "FILE")
    out = args.out or os.path.splitext(args.file)[0] + ".plan.png"
    writable_file(out, "--out")  # before the (slow) partition, not after it
    if args.dot:
        writable_file(args.dot, "--dot")
    plan = load_plan(args.file, args.objective, args.workers)
    print(plan.explain(verbose=args.verbose))
    plan.render(out)
    print(f"\nwrote {out}")
    if args.dot:
        with open(args.dot, "w") as f:
            f.write(plan.to_dot())
        print(f"wrote {args.dot}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plan", help="split a training script into data and training parts; explain and draw it")
    p.add_argument("file", help="a Python file defining `pipe` and `model` (optionally `loss_fn`, `example`, `pin`)")
    p.add_argument("--out", help="PNG to write (default: FILE.plan.png)")
    p.add_argument("--dot", help="also write the Graphviz text to this file")
    p.add_argument("--objective", default="fewest_bytes", choices=OBJECTIVES, help="how to choose the cut")
    p.add_argument("--workers", type=positive_int, default=None, help="data workers to plan for (default: CPU cores)")
    p.add_argument("--verbose", action="store_true", help="list every node")
    p.set_defaults(func=_run)
