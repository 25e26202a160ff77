"""``stoker dashboard URL ... [--port P]``: a web page with live charts of running jobs."""

from __future__ import annotations

import argparse
import time

from stoker.errors import InputError


def _run(args: argparse.Namespace) -> int:
    from stoker.obs.dashboard import DashboardServer

    if not args.targets:
        raise InputError("give the metrics address of a job, e.g. stoker dashboard http://127.0.0.1:9100")
    if not 0 <= args.port <= 65535:
        raise InputError(f"--port {args.port} should be 0-65535")
    try:
        server = DashboardServer(args.targets, port=args.port, host=args.host).start()
    except OSError as exc:
        raise InputError(str(exc)) from exc
    print(f"stoker dashboard: {server.url} (Ctrl-C stops)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dashboard", help="serve a web page with live charts of running jobs")
    p.add_argument("targets", nargs="*", metavar="URL", help="a job's metrics address (Loader(metrics_port=P))")
    p.add_argument("--port", type=int, default=8050, help="port of the page (default 8050, 0: any free one)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.set_defaults(func=_run)
