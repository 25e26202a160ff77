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
    try:
        # Compiled here first so that a file that is not Python is one line, not runpy's traceback; what
        # the script raises when it runs stays the script's own traceback.
        with open(path, "rb") as f:
            compile(f.read(), path, "exec")
    except (SyntaxError, ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{path!r} is not a Python script ({type(exc).__name__}: {str(exc)[:160]})") from None
    # Like `python FILE.py`: the script's folder comes first, so its sibling modules import.
    folder = os.path.dirname(os.path.abspath(path))
    sys.path.insert(0, folder)
    try:
        return runpy.run_path(path, run_name="__stoker_plan__")
    finally:
        sys.path.remove(folder)


def _check_parts(path: str, pipe: Any, model: Any) -> None:
    """Refuses a ``pipe`` that is no pipeline and a ``model`` that is no module, naming what they are."""
    import torch

    from stoker.data.pipeline import Pipeline

    dataset = hasattr(pipe, "__len__") and hasattr(pipe, "__getitem__")
    if not (isinstance(pipe, Pipeline) or dataset or callable(getattr(pipe, "__stoker_pipeline__", None))):
        raise InputError(
            f"{path}: `pipe` should be a stoker pipeline (stoker.from_files(...).map(...)) or a map-style Dataset, "
            f"got {type(pipe).__name__}"
        )
    if not isinstance(model, torch.nn.Module):
        raise InputError(f"{path}: `model` should be a torch.nn.Module, got {type(model).__name__}")


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
    _check_parts(path, pipe, model)
    with warnings.catch_warnings():
        # explain() prints a trace failure as its note: the warning would say it a second time.
        warnings.filterwarnings("ignore", message="stoker.partition")
        try:
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
        except TypeError as exc:
            # partition() turns a step it cannot trace into a note; what escapes is its check of the
            # script's values (the batch's type, the model's), which the message names.
            raise InputError(f"{path}: {str(exc).splitlines()[0]}") from None


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
