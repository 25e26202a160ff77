"""``stoker simulate``: replays the Alibaba GPU trace under one CPU policy; last stdout line is JSON."""

from __future__ import annotations

import argparse
import json
import sys
from functools import partial
from typing import Any

from stoker.cluster.policies import CPU_POLICIES, PLACEMENT_POLICIES, CpuParams
from stoker.commands._args import non_negative_float, non_negative_int, positive_float, positive_int, writable_dir
from stoker.errors import InputError


def add_scenario_args(p: argparse.ArgumentParser) -> None:
    """Flags that pick the cluster and trace slice (shared with ``stoker bench cluster``)."""
    p.add_argument("--trace", help="pod list CSV (default: openb_pod_list_default.csv from `stoker data fetch`)")
    p.add_argument("--nodes", help="node list CSV (default: openb_node_list_all_node.csv from `stoker data fetch`)")
    p.add_argument("--gpus", type=positive_int, help="simulate a reproducible sub-cluster of about N GPUs")
    p.add_argument(
        "--seed", type=non_negative_int, default=0, help="seeds models, sub-cluster, slice and noise (an integer >= 0)"
    )
    p.add_argument("--cpus-per-gpu", type=positive_float, help="CPU-scarce variant: GPU nodes get X CPUs per GPU")
    p.add_argument("--placement", default="fifo", choices=sorted(PLACEMENT_POLICIES))
    p.add_argument(
        "--remote-cost",
        type=non_negative_float,
        default=CpuParams().remote_cost,
        help="fraction of a remote data-worker CPU's work lost to the network (elastic)",
    )
    p.add_argument("--noise", type=non_negative_float, default=0.05, help="relative noise of throughput measurements")
    p.add_argument("--plot", metavar="DIR", help="write jct_cdf.png and utilisation.png here")


def check_scenario_args(args: argparse.Namespace) -> None:
    """Checks the plot folder and the numbers before the (long) simulation starts.

    Trace and node files are checked by their loader (:mod:`stoker.cluster.trace`).

    Raises:
        InputError: ``--plot`` cannot be written to, or ``--remote-cost`` is not a fraction.
    """
    if args.plot is not None:
        writable_dir(args.plot, "--plot")
    if args.remote_cost > 1:
        raise InputError(f"--remote-cost {args.remote_cost:g} should be a fraction in [0, 1]")


def _update(bar: Any, task: Any, fraction: float) -> None:
    bar.update(task, completed=fraction)


def run_policies(args: argparse.Namespace, policies: list[str], oracle: bool = False):
    """Builds the scenario once and simulates each policy with a rich progress bar (on stderr).

    With ``oracle`` the limit is simulated last: the same placement and queueing as ``elastic`` (its
    floors), every job at its curve's peak (``SimConfig.oracle``); its result is named ``oracle``.
    """
    from rich.console import Console
    from rich.progress import Progress

    from stoker.cluster.scenario import build
    from stoker.cluster.simulator import SimConfig, Simulator

    check_scenario_args(args)
    scenario = build(args.trace, args.nodes, args.gpus, args.seed, args.cpus_per_gpu)
    if not scenario.jobs:
        raise InputError(
            f"the trace slice has no jobs to simulate (trace {args.trace or 'default'!r}, --gpus {args.gpus}); "
            f"give a trace with tasks, or a larger --gpus"
        )
    # Rows left out are counted and said, never dropped in silence (stderr: stdout's last line stays JSON).
    print(
        f"stoker simulate: {len(scenario.jobs)} jobs in the slice; left out: the trace's {scenario.skipped_pending} "
        f"pending pods (never scheduled, no run time) and {scenario.unplaceable} jobs no node of the slice could hold",
        file=sys.stderr,
    )
    params = CpuParams(remote_cost=args.remote_cost)
    results = []
    with Progress(console=Console(stderr=True), transient=True) as bar:
        runs = [(p, False) for p in policies] + ([("elastic", True)] if oracle else [])
        for policy, limit in runs:
            task = bar.add_task(f"simulating {'oracle' if limit else policy}", total=1.0)
            config = SimConfig(
                policy=policy, placement=args.placement, seed=args.seed, noise=args.noise, params=params, oracle=limit
            )
            sim = Simulator(scenario.nodes, scenario.jobs, scenario.profiles, config)
            results.append(sim.run(progress=partial(_update, bar, task)))
    if args.plot:
        from stoker.cluster.plots import plot_results

        plot_results(results, sim.gpu_capacity, sim.cpu_capacity, args.plot)
    return scenario, results


def _run(args: argparse.Namespace) -> int:
    _, results = run_policies(args, [args.policy])
    summary = results[0].summary()
    if args.json:
        print(json.dumps(summary))
    else:
        for key, value in summary.items():
            print(f"{key:>12}: {value}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("simulate", help="replay the Alibaba GPU trace under a cluster CPU policy")
    p.add_argument("--policy", required=True, choices=sorted(CPU_POLICIES), help="CPU policy")
    add_scenario_args(p)
    p.add_argument("--json", action="store_true", help="print the summary as one JSON line")
    p.set_defaults(func=_run)
