"""``stoker bench cluster_scale``: the real controller actor with 1,000 jobs reporting every period.

The controller (:mod:`stoker.cluster.daemon`, the detached Ray actor ``stoker cluster start`` runs, with
its state file) is handed a fixed cluster of ``--nodes`` nodes of 16 CPUs and 4 GPUs (1,000 jobs need more
CPUs than this machine has; Ray's own view is replaced, nothing else). ``--reporters`` Ray actors stand in
for the jobs' trainers: each owns a share of the ``--jobs`` jobs and, every ``--period``, sends every job's
:class:`~stoker.cluster.learning.JobReport` to the controller as a job's Loader does, made from that job's
true curve (samples/s rise linearly with data workers up to a peak at a job-specific count, seeded) at the
budget the controller last answered, so the controller learns and reallocates as it would live.

Measured, after every job joined and ``--settle`` periods passed: each round's wall time inside the
controller (median and p99), the controller process's RSS, and, at ``--audits`` rounds, whether the
budgets equal the same policy run offline (a fresh :class:`~stoker.cluster.controller.Controller` loaded
with the controller's state before that round, fed the same reports). The goal is a round under 100 ms.
Last stdout line: ``{"jobs", "round_ms_median", "round_ms_p99", "rounds", "controller_rss_mib",
"reports_per_s", "join_s", "audits", "audits_equal"}``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

NODE_CPUS = 16.0
NODE_GPUS = 4


class Reporters:
    """A Ray actor that plays the trainers of some jobs: one report per job per period, until stopped."""

    def __init__(self, names: list[str], nodes: list[str], seed: int) -> None:
        rng = random.Random(seed)
        self.names, self.nodes = names, nodes
        # True curve: samples/s = unit * min(workers, knee); knee in 1..6 data workers.
        self.unit = [rng.uniform(50.0, 500.0) for _ in names]
        self.knee = [rng.choice((1, 1, 2, 3, 4, 6)) for _ in names]
        self.budget = [1] * len(names)
        self.sent = 0
        self.late = 0  # periods that took longer than the period (the reporter fell behind)
        self._stop = threading.Event()

    def _report(self, i: int) -> Any:
        from stoker.cluster.learning import JobReport

        w = self.budget[i]
        tput = self.unit[i] * min(w, self.knee[i])
        peak = self.unit[i] * self.knee[i]
        return JobReport(self.names[i], self.nodes[i], 1.0, tput, max(0.0, 1.0 - tput / peak), float(w))

    def run(self, period_s: float) -> tuple[int, int]:
        """Reports every job every ``period_s`` until :meth:`stop`; returns (reports sent, late periods)."""
        import ray

        from stoker.cluster import daemon

        handle = daemon.find()
        if handle is None:
            raise RuntimeError("no controller runs")
        # Each job joins once for its token (in parallel: the controller groups a burst of joins into
        # one round), then reports with it, as stoker.cluster.membership does for a real trainer.
        secret = daemon.secret_from_env()
        joined = ray.get([handle.join.remote(self._report(i), secret) for i in range(len(self.names))])
        tokens = [j.token for j in joined]
        self.budget = [int(j.budget.workers) for j in joined]
        next_t = time.monotonic()
        while not self._stop.is_set():
            refs = [handle.report.remote(self._report(i), tokens[i]) for i in range(len(self.names))]
            for i, reply in enumerate(ray.get(refs)):
                self.budget[i] = int(reply.workers)
            self.sent += len(refs)
            next_t += period_s
            if next_t < time.monotonic():
                self.late += 1
                next_t = time.monotonic()
            self._stop.wait(max(0.0, next_t - time.monotonic()))
        return self.sent, self.late

    def stop(self) -> None:
        self._stop.set()


def _offline(audit: Any, policy: str) -> dict[str, int]:
    """The budgets a fresh controller with the same state, reports and nodes decides."""
    from stoker.cluster.controller import Controller

    ctl = Controller(audit.nodes, policy, grid=(1, 2, 3, 4, 6, 8))
    ctl.load_state_dict(audit.controller_state)
    return ctl.decide(list(audit.reports), list(audit.nodes), audit.learned)


def _p(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="stoker bench cluster_scale", description=__doc__)
    p.add_argument("--quick", action="store_true", help="60 s of steady reports")
    p.add_argument("--jobs", type=int, default=1000, help="registered jobs (default 1000)")
    p.add_argument("--nodes", type=int, default=0, help="nodes of 16 CPUs and 4 GPUs (default: one GPU per job)")
    p.add_argument("--reporters", type=int, default=4, help="Ray actors sending the reports")
    p.add_argument("--period", type=float, default=2.0, help="controller round and report period, seconds")
    p.add_argument("--seconds", type=float, default=180.0, help="steady reporting after every job joined")
    p.add_argument("--settle", type=int, default=3, help="periods after the joins left out of the figures")
    p.add_argument("--audits", type=int, default=3, help="rounds checked against the policy run offline")
    p.add_argument("--policy", default="elastic", help="CPU policy")
    args = p.parse_args(argv)
    if args.quick:
        args.seconds = 60.0
    nodes_n = args.nodes or -(-args.jobs // NODE_GPUS)
    if args.jobs < 1 or args.reporters < 1 or not args.period > 0 or nodes_n * NODE_GPUS < args.jobs:
        raise SystemExit(
            f"stoker bench cluster_scale: need --jobs >= 1 (got {args.jobs}), --reporters >= 1, --period > 0, "
            f"and --nodes * {NODE_GPUS} >= --jobs (got {nodes_n} nodes)"
        )
    import ray

    from stoker.cluster import daemon
    from stoker.cluster.records import Node

    wall = time.perf_counter()
    nodes = [Node(f"node{k:04d}", NODE_CPUS, 65536, NODE_GPUS) for k in range(nodes_n)]
    names = [f"job{i:04d}" for i in range(args.jobs)]
    homes = [nodes[i // NODE_GPUS].name for i in range(args.jobs)]
    state = Path(tempfile.mkdtemp(prefix="stoker-cluster-scale-")) / "controller.json"
    ray.init(num_cpus=2, namespace=daemon.NAMESPACE, logging_level=logging.ERROR, log_to_driver=False)
    try:
        actor = daemon.start(args.policy, args.period, state, nodes=nodes)
        cls: Any = ray.remote(Reporters)
        share = [list(range(args.jobs))[k :: args.reporters] for k in range(args.reporters)]
        reps = [
            cls.options(num_cpus=0, max_concurrency=2).remote([names[i] for i in idx], [homes[i] for i in idx], k)
            for k, idx in enumerate(share)
        ]
        # Joins: every job's first report triggers a round at once, as a live job's does.
        t0 = time.perf_counter()
        runs = [r.run.remote(args.period) for r in reps]
        while len(ray.get(actor.status.remote()).jobs) < args.jobs:
            if time.perf_counter() - t0 > 600:
                raise SystemExit("stoker bench cluster_scale: the jobs did not all join within 600 s")
            time.sleep(0.5)
        join_s = time.perf_counter() - t0
        print(f"{args.jobs} jobs joined in {join_s:.1f} s", flush=True)
        time.sleep(args.settle * args.period)
        skip = len(ray.get(actor.round_times.remote()))
        t_steady = time.perf_counter()
        audits: list[bool] = []
        gap = args.seconds / (args.audits + 1)
        for _ in range(args.audits):
            time.sleep(gap)
            audit = ray.get(actor.audited_round.remote())
            same = _offline(audit, args.policy) == audit.budgets and len(audit.reports) == args.jobs
            audits.append(same)
            print(f"audit: {len(audit.reports)} reports, budgets equal offline: {same}", flush=True)
        time.sleep(max(0.0, t_steady + args.seconds - time.perf_counter()))
        times = ray.get(actor.round_times.remote())[skip:]
        ray.get([r.stop.remote() for r in reps])
        results = ray.get(runs)
        reports_per_s = sum(s for s, _ in results) / (time.perf_counter() - t0)  # joins included
        late = sum(n for _, n in results)
        rss = ray.get(actor.rss_bytes.remote())
        budgets = [j.budget for j in ray.get(actor.status.remote()).jobs]
    finally:
        daemon.stop()
        ray.shutdown()
        if state.exists():
            state.unlink()
        state.parent.rmdir()
    ms = [t * 1000 for t in times]
    print(
        f"{len(ms)} rounds at {args.jobs} jobs on {nodes_n} nodes ({nodes_n * NODE_CPUS:g} CPUs): "
        f"median {statistics.median(ms):.1f} ms, p99 {_p(ms, 0.99):.1f} ms; budgets {min(budgets)}..{max(budgets)} "
        f"(sum {sum(budgets)}); controller RSS {rss / 2**20:.0f} MiB"
    )
    print(
        f"reports: {reports_per_s:.0f}/s = {reports_per_s * args.period / args.jobs:.2f} per job per period; "
        f"a reporter fell behind its period {late} times"
    )
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; wall {time.perf_counter() - wall:.0f} s")
    out = {
        "jobs": args.jobs,
        "round_ms_median": round(statistics.median(ms), 2),
        "round_ms_p99": round(_p(ms, 0.99), 2),
        "rounds": len(ms),
        "controller_rss_mib": round(rss / 2**20, 1),
        "reports_per_s": round(reports_per_s, 1),
        "join_s": round(join_s, 1),
        "audits": len(audits),
        "audits_equal": sum(audits),
    }
    print(json.dumps(out))
    return 0
