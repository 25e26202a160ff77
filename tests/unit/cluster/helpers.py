"""Small hand-made clusters, jobs and profiles for the cluster policy tests."""

from __future__ import annotations

import random

import numpy as np

from stoker.cluster.curve import Curve
from stoker.cluster.policies import CpuParams, CpuPolicy
from stoker.cluster.profiles import Profiles
from stoker.cluster.records import ClusterView, Job, Node
from stoker.cluster.trace import TraceJob

GRID = (1.0, 2.0, 3.0, 4.0, 6.0, 9.0, 12.0)
# Shapes of Synergy's measured curves: image CNN (CPU-hungry), speech (saturates at 3), language (flat).
HUNGRY = Curve(GRID, (0.37, 0.72, 1.0, 1.3, 1.75, 2.4, 2.4))
MODEST = Curve(GRID, (0.3, 0.66, 1.0, 1.0, 1.0, 1.0, 1.0))
FLAT = Curve(GRID, (1.0,) * len(GRID))


def profiles() -> Profiles:
    curves = {("hungry", 1): HUNGRY, ("modest", 1): MODEST, ("flat", 1): FLAT}
    speeds = {
        "hungry": {"V100": 1.0, "P100": 0.9},
        "modest": {"V100": 1.0, "P100": 0.5},
        "flat": {"V100": 1.0, "P100": 0.6},
    }
    return Profiles(curves, speeds)


def job(name: str, gpus: float = 1.0, cpus: float = 3.0, curve: Curve = HUNGRY, **kw) -> Job:
    return Job(name=name, gpus=gpus, cpus=cpus, curve=curve, **kw)


def random_view(rng: random.Random, policy: CpuPolicy | None = None) -> ClusterView:
    """A random cluster, some CPUs reserved by CPU-only pods, and random jobs placed as a placement
    policy would: within GPU capacity, and with ``policy``'s floor fitting in the CPUs left."""
    params = CpuParams()
    nodes = []
    for i in range(rng.randint(1, 5)):
        gpus = rng.choice([0, 1, 2, 4, 8])
        nodes.append(Node(f"n{i}", float(rng.choice([4, 8, 16, 32, 96])), 1 << 20, gpus, "V100" if gpus else ""))
    reserved = {n.name: rng.choice([0.0, 0.0, 1.0]) for n in nodes}
    gpu_free = {n.name: float(n.gpus) for n in nodes}
    cpu_free = {n.name: n.cpus - reserved[n.name] for n in nodes}
    jobs, placement = [], {}
    for k in range(rng.randint(0, 12)):
        candidate = Job(
            f"j{k}",
            rng.choice([0.5, 1.0, 2.0]),
            rng.choice([1.0, 4.0, 12.0]),
            curve=rng.choice([HUNGRY, MODEST, FLAT]),
        )

        def floor(n: Node, j: Job = candidate) -> float:
            if policy is None:
                return 0.0
            return float(policy.floor(j, np.array([n.cpus]), np.array([n.gpus]), params)[0])

        where = [n for n in nodes if gpu_free[n.name] >= candidate.gpus and cpu_free[n.name] >= floor(n)]
        if not where:
            continue
        node = rng.choice(where)
        gpu_free[node.name] -= candidate.gpus
        cpu_free[node.name] -= floor(node)
        jobs.append(candidate)
        placement[candidate.name] = node.name
    return ClusterView(tuple(nodes), tuple(jobs), placement, reserved)


def trace_jobs(n: int, seed: int = 0, cpu_pods: int = 2) -> list[TraceJob]:
    """``n`` GPU jobs (plus CPU-only pods) arriving over an hour, durations 1-30 minutes."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        out.append(
            TraceJob(
                name=f"pod-{i:03d}",
                gpus=rng.choice([0.5, 1.0, 1.0, 2.0, 4.0]),
                cpus=rng.choice([1.0, 2.0, 4.0, 8.0]),
                memory_mib=1024,
                arrival_s=rng.uniform(0, 3600),
                duration_s=rng.uniform(60, 1800),
                gpu_types=("P100",) if i % 7 == 0 else (),
                model=rng.choice(["hungry", "modest", "flat"]),
            )
        )
    for i in range(cpu_pods):
        out.append(TraceJob(f"cpu-{i}", 0.0, 4.0, 1024, rng.uniform(0, 3600), 600.0, (), ""))
    return sorted(out, key=lambda j: (j.arrival_s, j.name))


def small_cluster(cpus_per_gpu: float = 3.0) -> list[Node]:
    return [
        Node("v0", 4 * cpus_per_gpu, 1 << 20, 4, "V100"),
        Node("v1", 4 * cpus_per_gpu, 1 << 20, 4, "V100"),
        Node("p0", 2 * cpus_per_gpu, 1 << 20, 2, "P100"),
        Node("c0", 16.0, 1 << 20, 0, ""),
    ]
