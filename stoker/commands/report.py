"""``stoker report LOG [--out DIR]``: PNG plots of a run from its JSONL stats log."""

from __future__ import annotations

import argparse
import os


def _run(args: argparse.Namespace) -> int:
    from stoker.commands._args import writable_dir
    from stoker.obs.diagnose import diagnose
    from stoker.obs.report import draw, read_log

    rows = read_log(args.log)
    out = args.out or os.path.splitext(args.log)[0] + "-report"
    writable_dir(out, "--out")
    for path in draw(rows, out, title=str(rows[-1].get("job", ""))):
        print(path)
    print(diagnose(rows[-1]))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="plot a run (throughput, data-wait, workers, stages) from its stats log")
    p.add_argument("log", help="the JSONL file of Loader(stats_log=...)")
    p.add_argument("--out", default=None, help="folder for the PNGs (default: LOG without .jsonl + '-report')")
    p.set_defaults(func=_run)
