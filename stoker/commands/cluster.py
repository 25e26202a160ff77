"""``stoker cluster start|status|stop|evict``: the CPU controller as a service on an existing Ray cluster.

The operator's secret comes from ``$STOKER_CLUSTER_SECRET`` (never a flag: argv shows in ``ps``): set at
``start``, jobs need it to join and ``evict`` needs it to remove a job. docs/ray.md has the threat model.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from stoker.cluster.policies import CPU_POLICIES, CpuParams
from stoker.commands._args import writable_file
from stoker.errors import InputError

MAX_PERIOD_S = 86400.0  # a round a day; more is a typo (and `inf` would never run one)


def _connect(address: str | None) -> None:
    import ray

    from stoker.cluster.daemon import NAMESPACE

    try:
        ray.init(address=address or "auto", namespace=NAMESPACE, logging_level=logging.ERROR, log_to_driver=False)
    except (ConnectionError, RuntimeError) as exc:
        raise InputError(
            f"no Ray cluster at --address {address or 'auto'} ({str(exc).splitlines()[0][:120]}); "
            "start one with `ray start --head` or pass its IP:PORT"
        ) from None


def _start(args: argparse.Namespace) -> int:
    if not 0 < args.period <= MAX_PERIOD_S:  # NaN fails every comparison, so it lands here too
        raise InputError(f"--period {args.period} should be > 0 seconds (at most {MAX_PERIOD_S:g})")
    if not 0 <= args.remote_cost < 1:
        raise InputError(f"--remote-cost {args.remote_cost} should be in [0, 1)")
    from stoker.cluster import daemon

    if args.state is not None:
        _check_state(args.state)
    _connect(args.address)
    secret = daemon.secret_from_env()
    try:
        actor = daemon.start(args.policy, args.period, args.state, args.remote_cost, secret=secret)
    except RuntimeError as exc:
        raise InputError(str(exc)) from None

    import ray

    status = ray.get(actor.status.remote())
    resumed = f", resumed from {args.state} (start {status.starts})" if status.starts > 1 else ""
    joining = f"jobs join with ${daemon.SECRET_ENV}" if secret else f"open joining (no ${daemon.SECRET_ENV})"
    print(
        f"stoker cluster: controller {daemon.ACTOR_NAME!r} runs ({args.policy}, a round every {args.period:g} s"
        f"{resumed}); {len(status.jobs)} jobs, {len(status.nodes)} nodes; {joining}"
    )
    return 0


def _check_state(path: str) -> None:
    """Refuses, before a controller starts, a --state file it could not write or resume from."""
    from stoker.cluster.service import STATE_VERSION

    writable_file(path, "--state")
    if not os.path.exists(path):
        return
    try:
        state = json.loads(Path(path).read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InputError(
            f"--state {path!r} is not a controller's JSON state ({exc}); remove it or pass another"
        ) from None
    if not isinstance(state, dict) or state.get("version") not in (1, STATE_VERSION):
        raise InputError(f"--state {path!r} is not a stoker controller state; remove it or pass another")


def _evict(args: argparse.Namespace) -> int:
    from stoker.cluster import daemon

    secret = daemon.secret_from_env()
    if secret is None:
        raise InputError(f"evicting needs the operator's secret: set ${daemon.SECRET_ENV} as at `stoker cluster start`")
    _connect(args.address)
    actor = daemon.find()
    if actor is None:
        print("stoker cluster: no controller runs", file=sys.stderr)
        return 1
    import ray

    from stoker.cluster.admission import Refused

    try:
        evicted = ray.get(actor.evict.remote(args.job, secret), timeout=30)
    except Refused as exc:
        raise InputError(str(getattr(exc, "cause", exc))) from None
    if not evicted:
        print(f"stoker cluster: no job {args.job!r}", file=sys.stderr)
        return 1
    print(f"stoker cluster: job {args.job!r} evicted")
    return 0


def _status(args: argparse.Namespace) -> int:
    from stoker.cluster import daemon

    _connect(args.address)
    actor = daemon.find()
    if actor is None:
        print("stoker cluster: no controller runs (start one with `stoker cluster start`)", file=sys.stderr)
        return 1
    import ray

    status = ray.get(actor.status.remote(), timeout=30)
    if args.json:
        print(json.dumps(status.to_json()))
        return 0
    print(f"policy {status.policy}, round {status.rounds} every {status.period_s:g} s, start {status.starts}")
    print(f"{'job':<24} {'node':<14} {'gpus':>5} {'budget':>6} {'workers':>7} {'samples/s':>10} {'data-wait':>9}")
    for j in status.jobs:
        print(
            f"{j.name:<24} {j.node[:12]:<14} {j.gpus:>5g} {j.budget:>6} {j.workers:>7g} "
            f"{j.throughput:>10.1f} {j.data_wait:>9.2f}"
        )
    print(f"{'node':<24} {'cpus':>6} {'lent':>6} {'free':>6}")
    for n in status.nodes:
        print(f"{n.name[:22]:<24} {n.cpus:>6g} {n.lent:>6g} {n.free:>6g}")
    return 0


def _stop(args: argparse.Namespace) -> int:
    from stoker.cluster import daemon

    _connect(args.address)
    if not daemon.stop():
        print("stoker cluster: no controller runs", file=sys.stderr)
        return 1
    print("stoker cluster: controller stopped (state saved)")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cluster", help="run the cluster CPU controller on a Ray cluster (start|status|stop)")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    start = verbs.add_parser("start", help="start the controller as a detached Ray actor")
    start.add_argument("--policy", default="elastic", choices=sorted(CPU_POLICIES), help="CPU policy")
    start.add_argument("--period", type=float, default=2.0, help="seconds per round (default 2)")
    start.add_argument("--state", help="JSON file the state is saved to every round and reloaded from")
    start.add_argument(
        "--remote-cost",
        type=float,
        default=CpuParams().remote_cost,
        help="fraction of a remote data-worker CPU's work lost to the network (elastic)",
    )
    start.set_defaults(func=_start)
    status = verbs.add_parser("status", help="list jobs and nodes")
    status.add_argument("--json", action="store_true", help="one JSON object")
    status.set_defaults(func=_status)
    stop = verbs.add_parser("stop", help="save the state and stop the controller")
    stop.set_defaults(func=_stop)
    evict = verbs.add_parser("evict", help="remove a job (needs $STOKER_CLUSTER_SECRET, as set at start)")
    evict.add_argument("job", help="the job's name (as `stoker cluster status` shows it)")
    evict.set_defaults(func=_evict)
    for verb in (start, status, stop, evict):
        verb.add_argument("--address", help="Ray cluster to join (default: auto, the one on this machine)")
