"""``stoker bench cluster``: every CPU policy on the same 64-GPU slice of the Alibaba GPU trace.

Prints a table led by elastic against ``proportional`` (GPU-proportional CPUs, GoldMiner's baseline) and
against two bounds (:mod:`stoker.cluster.bounds`): the ``oracle``, the same placement and FIFO queueing
with every job at its curve's peak whatever its CPUs (the best any CPU policy can do under that placement
and queueing), and the no-queue ideal, every job at its peak from its arrival (no scheduler beats it).
``static`` (each job's requested CPUs) stays in the table; where GPU nodes have fewer CPUs than jobs
request it queues jobs until whole requests fit. Last stdout line: one JSON object keyed by policy (and
``oracle``, and ``ideal`` with its avg JCT) with the ``stoker simulate --json`` figures, and ``"machine"``
(cores, load average at the start).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from stoker.bench._util import emit, machine
from stoker.cluster.bounds import no_queue_ideal_jct
from stoker.cluster.policies import cpu_policy
from stoker.commands.simulate import add_scenario_args, run_policies
from stoker.errors import InputError

POLICIES = ("static", "proportional", "synergy", "elastic")


def saturated_share(scenario) -> float:
    """Fraction of GPU jobs that already request at least the CPUs where their true curve saturates."""
    sat = [
        job.cpus / job.gpus >= scenario.profiles.curve(job.model, job.gpus).saturation()
        for job in scenario.jobs
        if job.gpus > 0
    ]
    return round(float(np.mean(sat)), 4) if sat else 0.0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="stoker bench cluster", description=__doc__)
    add_scenario_args(p)
    p.set_defaults(gpus=64)
    p.add_argument("--quick", action="store_true", help="accepted for symmetry; one seed either way")
    p.add_argument("--no-oracle", action="store_true", help="skip the oracle run (every job at its peak)")
    p.add_argument("--policies", default=",".join(POLICIES), help="comma-separated CPU policies")
    args = p.parse_args(argv)
    host = machine()
    policies = [x for x in args.policies.split(",") if x]
    if not policies:
        raise InputError("--policies is empty; name at least one CPU policy")
    for name in policies:
        cpu_policy(name)  # an unknown name fails here, before the trace is read, listing the valid ones
    start = time.perf_counter()
    try:
        scenario, results = run_policies(args, policies, oracle=not args.no_oracle)
    except InputError as exc:
        print(f"stoker bench cluster: error: {exc}", file=sys.stderr)
        return 2
    out = {r.policy: r.summary() for r in results}
    gpus = sum(n.gpus for n in scenario.nodes)
    cpus = sum(n.cpus for n in scenario.nodes)
    print(
        f"cluster: {len(scenario.nodes)} nodes, {gpus} GPUs, {cpus:.0f} CPUs; "
        f"jobs: {len(scenario.jobs)} (pending pods left out: {scenario.skipped_pending}, "
        f"unplaceable on this slice: {scenario.unplaceable}); "
        f"cpus_per_gpu={args.cpus_per_gpu or 'trace'}"
    )
    head = ("policy", "avg_jct_s", "p99_jct_s", "makespan_s", "gpu_util", "cpu_util")
    print(" ".join(f"{h:>12}" for h in head))
    for s in out.values():
        print(" ".join(f"{s[h]:>12}" for h in head))
    if "elastic" in out:
        e = out["elastic"]
        # The lead comparisons first: the GPU-proportional baseline and the limit.
        order = [b for b in ("proportional", "oracle") if b in out] + [
            b for b in out if b not in ("proportional", "oracle")
        ]
        for base in order:
            s = out[base]
            if base == "oracle" and s["avg_jct_s"] > 0:
                print(
                    f"elastic vs oracle (the limit): elastic's avg JCT is {e['avg_jct_s'] / s['avg_jct_s']:.3f}x the oracle's"
                )
                continue
            if base != "elastic" and e["avg_jct_s"] > 0 and s["gpu_util"] > 0:
                print(
                    f"elastic vs {base}: avg JCT {s['avg_jct_s'] / e['avg_jct_s']:.3f}x, "
                    f"gpu_util {e['gpu_util'] / s['gpu_util']:.3f}x"
                )
    ideal = no_queue_ideal_jct(scenario.jobs, scenario.nodes, scenario.profiles)
    ideal_avg = float(np.mean(ideal)) if ideal else 0.0
    if ideal_avg > 0:
        # The oracle bounds CPU policies under this placement and queueing; the no-queue ideal bounds
        # every scheduler: what lies between them is queueing and placement.
        ratios = ", ".join(f"{k} {v['avg_jct_s'] / ideal_avg:.3f}x" for k, v in out.items())
        print(f"no-queue ideal (every job at its peak from its arrival): avg JCT {ideal_avg:,.0f} s; {ratios} of it")
        out["ideal"] = {"policy": "ideal", "jobs": len(ideal), "avg_jct_s": round(ideal_avg, 1)}
    print("jobs requesting at least their saturation CPUs:", saturated_share(scenario))
    # gpu_util is over each policy's makespan, which one 145-day pod sets; within the trace's own window
    # (first to last arrival) every policy is judged over the same span.
    t0, t1 = scenario.jobs[0].arrival_s, scenario.jobs[-1].arrival_s
    window = {r.policy: round(r.busy_fraction(t0, t1, gpus), 4) for r in results}
    print("gpu_util within the trace window:", json.dumps(window))
    print(f"wall: {time.perf_counter() - start:.1f} s")
    emit(out, host)
    return 0
