"""``stoker top URL ...``: a live terminal view of running jobs (from their Prometheus metrics)."""

from __future__ import annotations

import argparse

from stoker.errors import InputError


def _run(args: argparse.Namespace) -> int:
    from stoker.obs.top import run_top

    if not 0 < args.interval <= 3600:  # NaN fails the comparison too
        raise InputError(f"--interval {args.interval} should be > 0 seconds (at most 3600)")
    if args.cluster:
        if len(args.targets) != 1:
            raise InputError("--cluster takes the controller's metrics address, e.g. stoker top --cluster :9470")
        from stoker.obs.top import run_cluster_top

        return run_cluster_top(args.targets[0], interval=args.interval, once=args.once)
    if not args.targets:
        raise InputError("give the metrics address of a job, e.g. stoker top http://127.0.0.1:9100")
    return run_top(args.targets, interval=args.interval, once=args.once)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("top", help="live view of running jobs: samples/s, data-wait, workers, stages, diagnosis")
    p.add_argument("targets", nargs="*", metavar="URL", help="a job's metrics address (Loader(metrics_port=P))")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between refreshes (default 1)")
    p.add_argument(
        "--cluster", action="store_true", help="URL is the cluster controller's metrics: one row per job, with budgets"
    )
    p.add_argument("--once", action="store_true", help="print one frame and exit (status 1 if no job answered)")
    p.set_defaults(func=_run)
