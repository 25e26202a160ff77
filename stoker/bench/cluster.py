"""``stoker bench cluster``: every CPU policy on the same 64-GPU slice of the Alibaba GPU trace.

Prints a table, elastic's ratios against each baseline, and what bounds them (how many jobs already ask
for CPUs past their curve's saturation; the avg JCT if every job ran at peak throughput from arrival).
Last stdout line: one JSON object keyed by policy with the ``stoker simulate --json`` figures.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from stoker.cluster.policies import CPU_POLICIES
from stoker.commands.simulate import add_scenario_args, run_policies
from stoker.errors import InputError

POLICIES = ("static", "proportional", "synergy", "elastic")


def trace_bounds(scenario) -> dict[str, float]:
    """How much CPUs alone could speed this slice up, from the true profiles (no simulation)."""
    sat, ideal = [], []
    for job in scenario.jobs:
        if job.gpus <= 0:
            continue
        curve = scenario.profiles.curve(job.model, job.gpus)
        per_gpu = job.cpus / job.gpus
        sat.append(per_gpu >= curve.saturation())
        ideal.append(job.duration_s * curve(per_gpu) / curve.peak)
    return {
        "jobs_at_saturation": round(float(np.mean(sat)), 4),
        "ideal_avg_jct_s": round(float(np.mean(ideal)), 1),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="stoker bench cluster", description=__doc__)
    add_scenario_args(p)
    p.set_defaults(gpus=64)
    p.add_argument("--quick", action="store_true", help="accepted for symmetry; one seed either way")
    p.add_argument("--policies", default=",".join(POLICIES), help="comma-separated CPU policies")
    args = p.parse_args(argv)
    policies = [x for x in args.policies.split(",") if x]
    unknown = [x for x in policies if x not in CPU_POLICIES]
    if not policies:
        raise InputError("--policies is empty; name at least one CPU policy")
    if unknown:
        raise InputError(f"--policies: unknown {unknown}; choose from {sorted(CPU_POLICIES)}")
    start = time.perf_counter()
    scenario, results = run_policies(args, policies)
    out = {r.policy: r.summary() for r in results}
    gpus = sum(n.gpus for n in scenario.nodes)
    cpus = sum(n.cpus for n in scenario.nodes)
    print(
        f"cluster: {len(scenario.nodes)} nodes, {gpus} GPUs, {cpus:.0f} CPUs; "
        f"jobs: {len(scenario.jobs)} (pending pods left out: {scenario.skipped_pending}); "
        f"cpus_per_gpu={args.cpus_per_gpu or 'trace'}"
    )
    head = ("policy", "avg_jct_s", "p99_jct_s", "makespan_s", "gpu_util", "cpu_util")
    print(" ".join(f"{h:>12}" for h in head))
    for s in out.values():
        print(" ".join(f"{s[h]:>12}" for h in head))
    if "elastic" in out:
        e = out["elastic"]
        for base, s in out.items():
            if base != "elastic" and e["avg_jct_s"] > 0 and s["gpu_util"] > 0:
                print(
                    f"elastic vs {base}: avg JCT {s['avg_jct_s'] / e['avg_jct_s']:.3f}x, "
                    f"gpu_util {e['gpu_util'] / s['gpu_util']:.3f}x"
                )
    print("bounds:", json.dumps(trace_bounds(scenario)))
    # gpu_util is over each policy's makespan, which one 145-day pod sets; within the trace's own window
    # (first to last arrival) every policy is judged over the same span.
    t0, t1 = scenario.jobs[0].arrival_s, scenario.jobs[-1].arrival_s
    window = {r.policy: round(r.busy_fraction(t0, t1, gpus), 4) for r in results}
    print("gpu_util within the trace window:", json.dumps(window))
    print(f"wall: {time.perf_counter() - start:.1f} s")
    print(json.dumps(out))
    return 0
