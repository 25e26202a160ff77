"""``stoker bench cluster_fidelity``: does the simulator predict a live run of the same jobs?

1. **Profile.** On a ``ray.cluster_utils.Cluster`` like ``stoker bench cluster_live``'s (a head node
   without CPUs, one data node of ``--cpus`` logical CPUs), each of ``cluster_live``'s four jobs runs at
   1, 2, ... ``--max-workers`` data workers (``--hold`` seconds each, autoscaler off): its measured curve
   of samples/s against CPUs. By default the four jobs run together, each profiled in turn while the
   others run at one worker (the company a job keeps live); ``--alone`` profiles each job by itself.
2. **Live.** The four jobs arrive ``--stagger`` seconds apart, each with a fixed amount of work (epochs
   of 128 samples: about ``--job-s`` seconds at one worker), under the live controller with ``static``
   and with ``elastic`` (fresh state each). Per job: samples/s over its life and its completion time
   (JCT, from its Loader's start to its last epoch).
3. **Simulated.** The same jobs (the measured curves as their true profiles, dips kept, one GPU each, work =
   samples / samples/s at one worker), the same arrivals and the same CPUs go to
   :class:`~stoker.cluster.simulator.Simulator` with the same policy, a policy round and a report every
   ``--period`` (the live controller's) and no measurement noise.

Printed: a table per job and policy (live and simulated samples/s and JCT, and the error of the
simulation; the live first epoch, which holds the start-up, and the live samples/s after it), then the
JSON line ``{"jobs", "policies", "mean_abs_err_sps", "max_abs_err_sps", "mean_abs_err_jct",
"max_abs_err_jct", "mean_abs_err_steady_sps", "within_10pct"}`` (errors as fractions of the live figure;
``within_10pct`` counts rows whose samples/s and JCT are both within 10 %).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from stoker.bench.cluster_live import JOBS, SAMPLES, _job, _rate

LIVE_POLICIES = ("static", "elastic")


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def _curve(epochs: list[dict], counts: list[int]) -> list[float]:
    """Samples/s at each worker count, from the profile run's epochs (the first at each count left out)."""
    out = []
    for k in counts:
        at = [e for e in epochs if e.get("workers") == k]
        if len(at) < 3:
            raise SystemExit(f"stoker bench cluster_fidelity: only {len(at)} epochs at {k} workers; raise --hold")
        out.append(sum(len(e["indices"]) for e in at[1:]) / (at[-1]["t"] - at[0]["t"]))
    return out


def _wait(procs: dict[str, subprocess.Popen], timeout_s: float) -> None:
    end = time.monotonic() + timeout_s
    for name, pr in procs.items():
        try:
            pr.wait(timeout=max(1.0, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            pr.kill()
            raise SystemExit(f"stoker bench cluster_fidelity: job {name} ran past {timeout_s:.0f} s") from None
        if pr.returncode != 0:
            raise SystemExit(f"stoker bench cluster_fidelity: job {name} exited {pr.returncode}; see its stderr")


def _profile(address: str, root: Path, args: argparse.Namespace) -> dict[str, list[float]]:
    return _profile_alone(address, root, args) if args.alone else _profile_together(address, root, args)


def _profile_alone(address: str, root: Path, args: argparse.Namespace) -> dict[str, list[float]]:
    counts = ",".join(str(k) for k in range(1, args.max_workers + 1))
    curves = {}
    for name in JOBS:
        folder = root / f"profile-{name}"
        folder.mkdir()
        (folder / "jpegs").symlink_to(root / "jpegs", target_is_directory=True)
        extra = ("--profile", counts, "--hold", str(args.hold))
        _wait({name: _job(address, name, folder, args.cpus, extra)}, timeout_s=120 + args.hold * args.max_workers * 3)
        epochs = [e for e in _lines(folder / f"{name}.jsonl") if "epoch" in e]
        curves[name] = _curve(epochs, list(range(1, args.max_workers + 1)))
        print(f"profile {name:>5}: " + ", ".join(f"{k + 1}w {v:.1f}" for k, v in enumerate(curves[name])), flush=True)
    return curves


def _profile_together(address: str, root: Path, args: argparse.Namespace) -> dict[str, list[float]]:
    """All jobs at once; job ``i`` runs 1..K workers in its turn, the others one worker meanwhile."""
    k, n = args.max_workers, len(JOBS)
    folder = root / "profile"
    folder.mkdir()
    (folder / "jpegs").symlink_to(root / "jpegs", target_is_directory=True)
    go = folder / "profile-at"
    procs = {}
    for i, name in enumerate(JOBS):
        sched = [1] * (k * i) + list(range(1, k + 1)) + [1] * (k * (n - 1 - i))
        extra = ("--profile", ",".join(map(str, sched)), "--hold", str(args.hold), "--profile-at", str(go))
        procs[name] = _job(address, name, folder, args.cpus, extra)
    # The schedule starts once every job trains (imports and a Ray actor each take long on a busy machine).
    end = time.monotonic() + args.startup
    while not all(any("epoch" in e for e in _lines(folder / f"{n}.jsonl")) for n in JOBS):
        if time.monotonic() > end or any(p.poll() is not None for p in procs.values()):
            for p in procs.values():
                p.kill()
            raise SystemExit(
                f"stoker bench cluster_fidelity: the jobs did not all train within --startup {args.startup:g} s"
            )
        time.sleep(0.5)
    t0 = time.time() + 2.0
    tmp = go.with_suffix(".tmp")
    tmp.write_text(f"{t0:.3f}")
    tmp.rename(go)  # whole or absent: a job never reads half a number
    _wait(procs, timeout_s=args.hold * k * n + 300)
    curves: dict[str, list[float]] = {}
    for i, name in enumerate(JOBS):
        got = _lines(folder / f"{name}.jsonl")
        epochs = [e for e in got if "epoch" in e]
        curves[name] = []
        for w in range(1, k + 1):
            start = t0 + (k * i + w - 1) * args.hold
            # The first seconds after a change hold the new worker's start: left out, as _rate leaves
            # out the first epoch.
            rate = _rate(epochs, start + min(3.0, args.hold / 4), start + args.hold)
            if rate <= 0:
                raise SystemExit(
                    f"stoker bench cluster_fidelity: too few epochs of {name} at {w} workers; raise --hold"
                )
            curves[name].append(rate)
        print(f"profile {name:>5}: " + ", ".join(f"{w + 1}w {v:.1f}" for w, v in enumerate(curves[name])), flush=True)
    return curves


def _live(address: str, root: Path, policy: str, epochs: dict[str, int], args: argparse.Namespace) -> dict:
    """One live run: per job its start (s after the first job's), samples, samples/s and JCT."""
    from stoker.cluster import daemon

    folder = root / f"live-{policy}"
    folder.mkdir()
    (folder / "jpegs").symlink_to(root / "jpegs", target_is_directory=True)
    (folder / "mode").write_text("controller")
    daemon.start(policy, args.period)
    procs = {}
    try:
        for i, name in enumerate(JOBS):
            if i:
                time.sleep(args.stagger)
            procs[name] = _job(address, name, folder, args.cpus, ("--max-epochs", str(epochs[name])))
        _wait(procs, timeout_s=600)
    finally:
        for pr in procs.values():
            if pr.poll() is None:
                pr.kill()
        daemon.stop()
    out = {}
    for name in JOBS:
        got = _lines(folder / f"{name}.jsonl")
        start = next(e["start"] for e in got if "start" in e)
        ends = [e for e in got if "epoch" in e]
        samples = sum(len(e["indices"]) for e in ends)
        jct = ends[-1]["t"] - start
        # Until its first epoch ends a job also starts its Ray data workers: the simulator has no start-up.
        first = ends[0]["t"] - start
        steady = sum(len(e["indices"]) for e in ends[1:]) / max(1e-9, ends[-1]["t"] - ends[0]["t"])
        out[name] = {"start": start, "samples": samples, "jct": jct, "sps": samples / jct, "first": first}
        out[name]["steady"] = steady  # samples/s after the first epoch: the start-up left out
    t0 = min(v["start"] for v in out.values())
    for v in out.values():
        v["start"] -= t0
    return out


def _simulate(policy: str, live: dict, curves: dict[str, list[float]], args: argparse.Namespace) -> dict:
    from stoker.cluster.curve import Curve
    from stoker.cluster.profiles import Profiles
    from stoker.cluster.records import Node
    from stoker.cluster.simulator import SimConfig, Simulator
    from stoker.cluster.trace import TraceJob

    xs = tuple(float(k) for k in range(1, args.max_workers + 1))
    # The simulator's curves are relative to the requested CPUs (1 worker) and kept as measured, dips
    # included: on a node whose logical CPUs share fewer cores, a worker more can slow its job (it takes
    # the trainer's core), and the controller learns that from its moves (stoker.cluster.moves), so
    # the simulated one must see it too. A running maximum here predicted gains no live job got.
    prof = {(name, 1): Curve(xs, tuple(y / ys[0] for y in ys)) for name, ys in curves.items()}
    order = sorted(JOBS, key=lambda n: live[n]["start"])
    jobs = [
        TraceJob(n, 1.0, 1.0, 0, live[n]["start"], live[n]["samples"] / curves[n][0], (), n)
        for n in order
    ]  # fmt: skip
    nodes = [Node("data", float(args.cpus), 0, len(JOBS))]
    config = SimConfig(policy=policy, noise=0.0, report_period_s=args.period, round_s=args.period)
    sim = Simulator(nodes, jobs, Profiles(prof, {}), config)
    sim.run()
    out = {}
    for j in jobs:
        jct = sim.finished[j.name] - j.arrival_s
        out[j.name] = {"jct": jct, "sps": live[j.name]["samples"] / jct}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="stoker bench cluster_fidelity", description=__doc__)
    p.add_argument("--quick", action="store_true", help="--hold 15 --job-s 30")
    p.add_argument("--cpus", type=int, default=6, help="logical CPUs of the data node")
    p.add_argument("--max-workers", type=int, default=4, help="profile at 1..N workers")
    p.add_argument("--hold", type=float, default=15.0, help="seconds per worker count when profiling")
    p.add_argument("--alone", action="store_true", help="profile each job by itself (default: in company)")
    p.add_argument("--startup", type=float, default=300.0, help="longest wait for the jobs to train before profiling")
    p.add_argument("--job-s", type=float, default=60.0, help="each job's work, in seconds at one worker")
    p.add_argument("--stagger", type=float, default=5.0, help="seconds between two jobs' arrivals")
    p.add_argument("--period", type=float, default=1.0, help="controller round, seconds")
    args = p.parse_args(argv)
    if args.quick:
        args.hold, args.job_s = 15.0, 30.0
    if args.cpus < len(JOBS) or args.max_workers < 2 or args.hold < 4 or args.job_s < 5 or args.period <= 0:
        raise SystemExit(
            f"stoker bench cluster_fidelity: need --cpus >= {len(JOBS)} (got {args.cpus}), --max-workers >= 2, "
            f"--hold >= 4, --job-s >= 5, --period > 0"
        )
    import ray
    from ray.cluster_utils import Cluster

    from stoker.cluster import daemon
    from stoker.sample_data import make_jpeg_folder

    wall = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="stoker-cluster-fidelity-"))
    make_jpeg_folder(root / "jpegs", SAMPLES, seed=0)  # the cnn job's images, made once
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    cluster.add_node(num_cpus=args.cpus)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, namespace=daemon.NAMESPACE, logging_level=logging.ERROR, log_to_driver=False)
    os.environ["RAY_ADDRESS"] = cluster.address
    rows: list[dict[str, Any]] = []
    try:
        curves = _profile(cluster.address, root, args)
        epochs = {n: max(2, round(args.job_s * curves[n][0] / SAMPLES)) for n in JOBS}
        for policy in LIVE_POLICIES:
            live = _live(cluster.address, root, policy, epochs, args)
            sim = _simulate(policy, live, curves, args)
            for n in JOBS:
                rows.append({"job": n, "policy": policy, "live": live[n], "sim": sim[n]})
    finally:
        daemon.stop()
        ray.shutdown()
        cluster.shutdown()
        shutil.rmtree(root, ignore_errors=True)
    print(
        "| job | policy | live samples/s | sim samples/s | error | live JCT s | sim JCT s | error "
        "| live 1st epoch s | live steady samples/s | error |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    err_sps, err_jct, err_steady = [], [], []
    for r in rows:
        es = r["sim"]["sps"] / r["live"]["sps"] - 1
        ej = r["sim"]["jct"] / r["live"]["jct"] - 1
        et = r["sim"]["sps"] / r["live"]["steady"] - 1
        err_sps.append(abs(es))
        err_jct.append(abs(ej))
        err_steady.append(abs(et))
        print(
            f"| {r['job']} | {r['policy']} | {r['live']['sps']:.1f} | {r['sim']['sps']:.1f} | {es:+.0%} "
            f"| {r['live']['jct']:.1f} | {r['sim']['jct']:.1f} | {ej:+.0%} | {r['live']['first']:.1f} "
            f"| {r['live']['steady']:.1f} | {et:+.0%} |"
        )
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; wall {time.perf_counter() - wall:.0f} s")
    out = {
        "jobs": len(JOBS),
        "policies": list(LIVE_POLICIES),
        "mean_abs_err_sps": round(statistics.mean(err_sps), 3),
        "max_abs_err_sps": round(max(err_sps), 3),
        "mean_abs_err_jct": round(statistics.mean(err_jct), 3),
        "max_abs_err_jct": round(max(err_jct), 3),
        "mean_abs_err_steady_sps": round(statistics.mean(err_steady), 3),
        "within_10pct": sum(1 for a, b in zip(err_sps, err_jct) if a <= 0.1 and b <= 0.1),
    }
    print(json.dumps(out))
    return 0
