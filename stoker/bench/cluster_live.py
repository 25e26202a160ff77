"""``stoker bench cluster_live``: three real jobs on a Ray cluster, the controller under ``static`` and
``elastic``, interleaved.

A ``ray.cluster_utils.Cluster`` on this machine: a head node without CPUs for data workers (the trainers
connect there) and one data node with ``--cpus`` logical CPUs. Three jobs run as separate driver processes
(:mod:`stoker.bench._cluster_job`), each a real CPU-bound pipeline (spinning ``cpu-ms`` per sample) on Ray
data workers and a simulated accelerator (a sleep per batch), with ``Loader(cluster=NAME)``:

- ``slow``: a slow accelerator that needs a fraction of one worker;
- ``mid``: needs about one worker;
- ``fast``: a fast accelerator that needs several workers.

The jobs run for the whole benchmark; rounds switch the controller between ``static`` (every job one
worker, what it asked for) and ``elastic`` (the spare CPUs go to the job that gains most), interleaved.
In every elastic round the controller is SIGKILLed mid-round and restarted from its state file. A round's
figure is the jobs' summed samples/s between ``--settle`` seconds after the switch and its end, from the
epoch ends the jobs log; every epoch's ledger is checked (samples lost or duplicated).
Last stdout line: ``{"static_sps", "elastic_sps", "rounds", "lost", "duplicated", "controller_restarts"}``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# name: (CPU ms per sample, accelerator step ms per batch, batch size). "slow" and "mid" need a small
# fraction of a worker (3 ms and 1.5 ms of CPU per 400 ms and 200 ms steps: fed by their one worker even
# when a crowded machine stretches CPU time and Ray calls tenfold); "fast" needs two on an idle machine
# (20 ms per 10 ms step). static gives each job one worker; elastic can move the data node's spare CPU
# to "fast".
JOBS = {"slow": (0.1, 400.0, 32), "mid": (0.1, 200.0, 16), "fast": (2.5, 10.0, 8)}
SAMPLES = 128


def _job(address: str, name: str, folder: Path) -> subprocess.Popen:
    cpu_ms, step_ms, batch = JOBS[name]
    argv = [sys.executable, "-m", "stoker.bench._cluster_job", "--address", address, "--name", name]
    argv += ["--out", str(folder / f"{name}.jsonl"), "--stop", str(folder / "stop"), "--samples", str(SAMPLES)]
    # 8 splits in flight per worker hide Ray's per-call latency, which a crowded machine stretches to
    # most of a second: a job then waits on data only when its workers lack CPU.
    argv += ["--batch", str(batch), "--cpu-ms", str(cpu_ms), "--step-ms", str(step_ms), "--prefetch", "8"]
    return subprocess.Popen(argv, env=dict(os.environ), stdout=subprocess.DEVNULL)


def _controller() -> Any:
    from stoker.cluster import daemon

    actor = daemon.find()
    if actor is None:
        raise RuntimeError("the controller this benchmark started is gone")
    return actor


def _epochs(folder: Path, name: str) -> list[dict]:
    path = folder / f"{name}.jsonl"
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if '"epoch"' in x]


def _rate(epochs: list[dict], t0: float, t1: float) -> float:
    """Samples/s of one job between its first and last epoch end inside [t0, t1]."""
    inside = [e for e in epochs if t0 <= e["t"] <= t1]
    if len(inside) < 2:
        return 0.0
    samples = sum(len(e["indices"]) for e in inside[1:])
    return samples / (inside[-1]["t"] - inside[0]["t"])


def _ledger(epochs: list[dict]) -> tuple[int, int]:
    lost = dup = 0
    for e in epochs:
        seen = e["indices"]
        lost += len(set(range(SAMPLES)) - set(seen))
        dup += len(seen) - len(set(seen))
    return lost, dup


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="stoker bench cluster_live", description=__doc__)
    p.add_argument("--quick", action="store_true", help="3 rounds per policy of 30 s")
    p.add_argument("--rounds", type=int, default=5, help="rounds per policy (>= 3)")
    p.add_argument("--round-s", type=float, default=40.0, help="seconds per round")
    p.add_argument("--settle", type=float, default=6.0, help="seconds after a switch left out of a round")
    p.add_argument("--cpus", type=int, default=4, help="logical CPUs of the data node")
    p.add_argument("--period", type=float, default=1.0, help="controller round, seconds")
    p.add_argument(
        "--kill-controller",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="SIGKILL and restart the controller in the middle of every elastic round (default: on)",
    )
    p.add_argument(
        "--remote-cost",
        type=float,
        default=0.0,
        help="elastic's discount of a CPU off the trainer's node (0: the nodes share this machine)",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.rounds, args.round_s = 3, 30.0
    if args.rounds < 3 or args.round_s <= args.settle + 4 or args.cpus < len(JOBS) or args.period <= 0:
        raise SystemExit(
            f"stoker bench cluster_live: need --rounds >= 3 (got {args.rounds}), --round-s > --settle + 4 "
            f"(got {args.round_s}, {args.settle}), --cpus >= {len(JOBS)} (got {args.cpus}), --period > 0"
        )
    import ray
    from ray.cluster_utils import Cluster

    from stoker.cluster import daemon

    wall = time.perf_counter()
    folder = Path(tempfile.mkdtemp(prefix="stoker-cluster-live-"))
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    cluster.add_node(num_cpus=args.cpus)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, namespace=daemon.NAMESPACE, logging_level=logging.ERROR, log_to_driver=False)
    os.environ["RAY_ADDRESS"] = cluster.address
    procs = {name: _job(cluster.address, name, folder) for name in JOBS}
    figures: dict[str, list[float]] = {"static": [], "elastic": []}
    restarts = 0
    try:
        daemon.start("static", args.period, folder / "static.json", args.remote_cost)
        # Wait until every job trains (imports and Ray workers take a while on a loaded machine).
        while not all(len(_epochs(folder, n)) >= 2 for n in JOBS):
            if any(pr.poll() is not None for pr in procs.values()):
                raise SystemExit("stoker bench cluster_live: a job exited before training; see its stderr")
            time.sleep(0.5)
        for k in range(2 * args.rounds):
            policy = ("static", "elastic")[k % 2]
            daemon.stop()
            daemon.start(policy, args.period, folder / f"{policy}.json", args.remote_cost)
            t_switch = time.time()
            if policy == "elastic" and args.kill_controller:
                time.sleep(args.round_s / 2)
                os.kill(ray.get(_controller().pid.remote()), signal.SIGKILL)
                while daemon.find() is not None:
                    time.sleep(0.1)
                daemon.start(policy, args.period, folder / f"{policy}.json", args.remote_cost)
                restarts += 1
                time.sleep(max(0.0, t_switch + args.round_s - time.time()))
            else:
                time.sleep(args.round_s)
            t_end = time.time()
            jobs = ray.get(_controller().status.remote()).jobs
            seen = ", ".join(f"{j.name} {j.budget} (wait {j.data_wait:.2f})" for j in jobs)
            sps = sum(_rate(_epochs(folder, n), t_switch + args.settle, t_end) for n in JOBS)
            figures[policy].append(sps)
            print(f"round {k // 2 + 1} {policy:>7}: {sps:8.1f} samples/s; budgets {seen}", flush=True)
    finally:
        (folder / "stop").touch()
        for pr in procs.values():
            try:
                pr.wait(timeout=120)
            except subprocess.TimeoutExpired:
                pr.kill()
        daemon.stop()
        ray.shutdown()
        cluster.shutdown()
    lost = dup = 0
    for n in JOBS:
        a, b = _ledger(_epochs(folder, n))
        lost, dup = lost + a, dup + b
    ends = {}
    for n in JOBS:
        path = folder / f"{n}.jsonl"
        done = [json.loads(x) for x in path.read_text().splitlines() if '"done"' in x] if path.exists() else []
        ends[n] = done[-1].get("worker_changes") if done else None
    print(f"worker count changes over the run (a rise starts a Ray actor): {ends}")
    shutil.rmtree(folder, ignore_errors=True)
    static, elastic = statistics.median(figures["static"]), statistics.median(figures["elastic"])
    print(f"elastic / static: {elastic / static:.3f}x (medians of {args.rounds} interleaved rounds each)")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; wall {time.perf_counter() - wall:.0f} s")
    out = {
        "static_sps": round(static, 1),
        "elastic_sps": round(elastic, 1),
        "rounds": args.rounds,
        "lost": lost,
        "duplicated": dup,
        "controller_restarts": restarts,
    }
    print(json.dumps(out))
    return 0
