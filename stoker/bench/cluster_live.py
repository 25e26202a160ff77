"""``stoker bench cluster_live``: four real jobs on a Ray cluster under ``static``, ``elastic`` and no
controller, interleaved.

A ``ray.cluster_utils.Cluster`` on this machine: a head node without CPUs for data workers (the trainers
connect there) and one data node with ``--cpus`` logical CPUs. Four jobs run as separate driver processes
(:mod:`stoker.bench._cluster_job`) with ``Loader(cluster=NAME)`` on Ray data workers:

- ``slow``, ``mid``: a pipeline spinning 0.1 ms of CPU per sample and a simulated accelerator (a sleep
  of 400 / 200 ms per batch): a fraction of one worker feeds them;
- ``fast``: spins 2.5 ms per sample for a 10 ms accelerator step: it needs several workers;
- ``cnn``: the demo's real JPEG pipeline (decode, crop, flip) feeding the demo's CNN, trained with SGD on
  this machine's CPU: trainer and data workers really compete for the cores.

The jobs run for the whole benchmark; rounds cycle ``static`` (the controller gives every job one worker,
what it asked for), ``elastic`` (the controller moves the spare CPUs to the jobs that gain most) and
``none`` (no controller: every job's own autoscaler takes what Ray gives it, up to ``--cpus``). In every
elastic round the controller is SIGKILLed mid-round and restarted from its state file. A round's figure is
the jobs' summed samples/s between ``--settle`` seconds after the switch and its end, from the epoch ends
the jobs log; every epoch's ledger is checked (samples lost or duplicated). The run's budget and worker
count changes (summed over the jobs, each worker rise a Ray actor start) are given per minute.
Last stdout line: ``{"static_sps", "elastic_sps", "none_sps", "rounds", "lost", "duplicated",
"controller_restarts", "budget_changes_per_min", "worker_changes_per_min"}``.
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
# (20 ms per 10 ms step). "cnn" (None: the real JPEG job) decodes 256-384 px JPEGs (a few ms each) for
# a CNN step on 16 images of 56 px on one trainer core. static gives each job one worker; elastic and
# the jobs' own autoscalers (no controller) share the data node's spare CPUs.
JOBS: dict[str, tuple[float, float, int] | None] = {
    "slow": (0.1, 400.0, 32),
    "mid": (0.1, 200.0, 16),
    "fast": (2.5, 10.0, 8),
    "cnn": None,
}
CNN_BATCH = 16
SAMPLES = 128
POLICIES = ("static", "elastic", "none")


def _job(address: str, name: str, folder: Path, cap: int, extra: tuple[str, ...] = ()) -> subprocess.Popen:
    """Starts job ``name`` as its own driver process; ``extra`` arguments go to :mod:`._cluster_job`."""
    argv = [sys.executable, "-m", "stoker.bench._cluster_job", "--address", address, "--name", name]
    argv += ["--out", str(folder / f"{name}.jsonl"), "--stop", str(folder / "stop"), "--samples", str(SAMPLES)]
    argv += ["--mode", str(folder / "mode"), "--cap", str(cap)]
    # 8 splits in flight per worker hide Ray's per-call latency, which a crowded machine stretches to
    # most of a second: a job then waits on data only when its workers lack CPU.
    argv += ["--prefetch", "8"]
    spec = JOBS[name]
    if spec is None:
        argv += ["--kind", "train", "--data", str(folder / "jpegs"), "--batch", str(CNN_BATCH)]
    else:
        cpu_ms, step_ms, batch = spec
        argv += ["--batch", str(batch), "--cpu-ms", str(cpu_ms), "--step-ms", str(step_ms)]
    argv += list(extra)
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


def _switch(policy: str, folder: Path, args: argparse.Namespace) -> None:
    """Ends the last round's regime and starts ``policy``'s (a controller, or none and the jobs' own caps)."""
    from stoker.cluster import daemon

    daemon.stop()
    (folder / "mode").write_text("none" if policy == "none" else "controller")
    if policy != "none":
        daemon.start(policy, args.period, folder / f"{policy}.json", args.remote_cost)


def _round(policy: str, folder: Path, args: argparse.Namespace) -> tuple[float, float, int]:
    """Runs one round; returns its start, its end and the controller restarts it made."""
    import ray

    from stoker.cluster import daemon

    _switch(policy, folder, args)
    t_switch = time.time()
    if policy == "elastic" and args.kill_controller:
        time.sleep(args.round_s / 2)
        os.kill(ray.get(_controller().pid.remote()), signal.SIGKILL)
        while daemon.find() is not None:
            time.sleep(0.1)
        daemon.start(policy, args.period, folder / f"{policy}.json", args.remote_cost)
        time.sleep(max(0.0, t_switch + args.round_s - time.time()))
        return t_switch, time.time(), 1
    time.sleep(args.round_s)
    return t_switch, time.time(), 0


def _moves(history: list[dict[str, int]]) -> str:
    """Each job's budgets over the controller's rounds, repeats folded (``fast 1>2>1``)."""
    out = []
    for name in JOBS:
        seq = [h[name] for h in history if name in h]
        folded = [b for k, b in enumerate(seq) if k == 0 or b != seq[k - 1]]
        out.append(f"{name} {'>'.join(map(str, folded))}")
    return ", ".join(out)


def _done_lines(folder: Path) -> dict[str, dict]:
    out = {}
    for n in JOBS:
        path = folder / f"{n}.jsonl"
        done = [json.loads(x) for x in path.read_text().splitlines() if '"done"' in x] if path.exists() else []
        out[n] = done[-1] if done else {}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="stoker bench cluster_live", description=__doc__)
    p.add_argument("--quick", action="store_true", help="3 rounds per regime of 30 s")
    p.add_argument("--rounds", type=int, default=5, help="rounds per regime (>= 3)")
    p.add_argument("--round-s", type=float, default=40.0, help="seconds per round")
    p.add_argument("--settle", type=float, default=6.0, help="seconds after a switch left out of a round")
    p.add_argument("--cpus", type=int, default=6, help="logical CPUs of the data node")
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
    p.add_argument("--json-out", help="also write every round's per-job samples/s here (for the fidelity check)")
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
    (folder / "mode").write_text("controller")
    procs = {name: _job(cluster.address, name, folder, args.cpus) for name in JOBS}
    figures: dict[str, list[float]] = {k: [] for k in POLICIES}
    per_job: list[dict] = []
    restarts = 0
    try:
        daemon.start("static", args.period, folder / "static.json", args.remote_cost)
        # Wait until every job trains (imports and Ray workers take a while on a loaded machine).
        while not all(len(_epochs(folder, n)) >= 2 for n in JOBS):
            if any(pr.poll() is not None for pr in procs.values()):
                raise SystemExit("stoker bench cluster_live: a job exited before training; see its stderr")
            time.sleep(0.5)
        t_first = time.time()
        for k in range(len(POLICIES) * args.rounds):
            policy = POLICIES[k % len(POLICIES)]
            t_switch, t_end, restarted = _round(policy, folder, args)
            restarts += restarted
            if policy == "none":
                seen = "no controller"
            else:
                jobs = ray.get(_controller().status.remote()).jobs
                seen = "budgets " + ", ".join(f"{j.name} {j.budget} (wait {j.data_wait:.2f})" for j in jobs)
                seen += "; moves since the controller started: " + _moves(ray.get(_controller().history.remote()))
            rates = {n: _rate(_epochs(folder, n), t_switch + args.settle, t_end) for n in JOBS}
            per_job.append({"policy": policy, "round": k // len(POLICIES) + 1, "sps": rates})
            figures[policy].append(sum(rates.values()))
            print(
                f"round {k // len(POLICIES) + 1} {policy:>7}: {sum(rates.values()):8.1f} samples/s; {seen}", flush=True
            )
        minutes = (time.time() - t_first) / 60
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
    for name in JOBS:
        a, b = _ledger(_epochs(folder, name))
        lost, dup = lost + a, dup + b
    ends = _done_lines(folder)
    worker_changes = sum(int(e.get("worker_changes") or 0) for e in ends.values())
    budget_changes = sum(int(e.get("budget_changes") or 0) for e in ends.values())
    changes = ", ".join(f"{n} {e.get('worker_changes')}/{e.get('budget_changes')}" for n, e in ends.items())
    print(f"worker/budget count changes over the run (a worker rise starts a Ray actor): {changes}")
    shutil.rmtree(folder, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in figures.items()}
    for n in JOBS:
        cells = ", ".join(
            f"{pol} {statistics.median(r['sps'][n] for r in per_job if r['policy'] == pol):.1f}" for pol in POLICIES
        )
        print(f"  {n:>5}: samples/s median per regime: {cells}")
    print(
        f"elastic / static: {med['elastic'] / med['static']:.3f}x, elastic / none: {med['elastic'] / med['none']:.3f}x "
        f"(medians of {args.rounds} interleaved rounds each)"
    )
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; wall {time.perf_counter() - wall:.0f} s")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"cpus": args.cpus, "rounds": per_job}))
    out = {
        "static_sps": round(med["static"], 1),
        "elastic_sps": round(med["elastic"], 1),
        "none_sps": round(med["none"], 1),
        "rounds": args.rounds,
        "lost": lost,
        "duplicated": dup,
        "controller_restarts": restarts,
        "budget_changes_per_min": round(budget_changes / minutes, 2),
        "worker_changes_per_min": round(worker_changes / minutes, 2),
    }
    print(json.dumps(out))
    return 0
