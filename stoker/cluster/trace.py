"""Loads the Alibaba GPU-2023 trace (pods and nodes) and cuts reproducible slices of it.

The trace (alibaba/clusterdata ``cluster-trace-gpu-v2023``, Weng et al. ATC'23) has no model names; each
task gets a Synergy model drawn from a hash of (seed, pod name), so a pod keeps its model whatever slice it
lands in. docs/simulator.md lists every choice made here.
"""

from __future__ import annotations

import csv
import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from stoker.cluster.records import Node
from stoker.errors import InputError

PODS_FILE = "alibaba-gpu-v2023-openb_pod_list_default.csv"
NODES_FILE = "alibaba-gpu-v2023-openb_node_list_all_node.csv"
POD_COLUMNS = ("name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli")
TIME_COLUMNS = ("creation_time", "deletion_time", "scheduled_time")
NODE_COLUMNS = ("sn", "cpu_milli", "memory_mib", "gpu", "model")


@dataclass(frozen=True)
class TraceJob:
    """One pod of the trace, with the model it was assigned.

    Attributes:
        name: Pod name.
        gpus: GPU share (``num_gpu * gpu_milli / 1000``); 0 for a CPU-only pod.
        cpus: Requested CPUs.
        memory_mib: Requested memory, MiB.
        arrival_s: ``creation_time``, seconds.
        duration_s: Run time at the requested allocation: ``deletion_time - scheduled_time``, at least 1 s.
        gpu_types: Allowed GPU types from ``gpu_spec`` (``"V100M16|V100M32"``); empty means any.
        model: Synergy model name; ``""`` for a CPU-only pod.
    """

    name: str
    gpus: float
    cpus: float
    memory_mib: int
    arrival_s: float
    duration_s: float
    gpu_types: tuple[str, ...]
    model: str


def _model_for(name: str, seed: int, models: Sequence[str]) -> str:
    # A hash rather than one RNG stream: a pod's model must not depend on which other pods are in the slice.
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return models[int.from_bytes(digest[:8], "big") % len(models)]


def _check(path: Path) -> Path:
    if not path.is_file():
        raise InputError(
            f"{path} not found; pass --trace/--nodes or set STOKER_DATA_DIR to the folder with the "
            "alibaba/clusterdata cluster-trace-gpu-v2023 CSVs (docs/simulator.md)"
        )
    return path


def _columns(path: Path, fields: Sequence[str] | None, needed: Sequence[str], what: str) -> None:
    if not fields:
        raise InputError(f"{path} is empty; a {what} CSV starts with the header {','.join(needed)}")
    missing = [c for c in needed if c not in fields]
    if missing:
        raise InputError(f"{path} lacks the column(s) {','.join(missing)} of a {what} CSV (it has {','.join(fields)})")


def _number(path: Path, line: int, row: dict[str, str], key: str) -> float:
    try:
        return float(row[key])
    except (TypeError, ValueError):
        raise InputError(f"{path} line {line}: {key}={row[key]!r} is not a number") from None


def load_nodes(path: str | Path) -> list[Node]:
    """Reads a node list CSV (``sn,cpu_milli,memory_mib,gpu,model``).

    Raises:
        InputError: The file is missing, lacks a column or holds a value that is not a number.
    """
    path = _check(Path(path))
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        _columns(path, reader.fieldnames, NODE_COLUMNS, "node list")
        return [
            Node(
                r["sn"],
                _number(path, k, r, "cpu_milli") / 1000,
                int(_number(path, k, r, "memory_mib")),
                int(_number(path, k, r, "gpu")),
                r["model"] or "",
            )
            for k, r in enumerate(reader, start=2)
        ]


def load_pods(path: str | Path, models: Sequence[str], seed: int = 0) -> tuple[list[TraceJob], int]:
    """Reads a pod list CSV.

    Pods that never ran (phase ``Pending``, no ``scheduled_time``) have no run time and are left out.

    Returns:
        The jobs sorted by arrival, and how many pending pods were left out.

    Raises:
        InputError: The file is missing, lacks a column, holds a value that is not a number, or is a
            placement snapshot (no time columns) rather than a trace.
    """
    path = _check(Path(path))
    jobs: list[TraceJob] = []
    skipped = 0
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        _columns(path, reader.fieldnames, POD_COLUMNS, "pod list")
        untimed = [c for c in TIME_COLUMNS if c not in (reader.fieldnames or ())]
        if untimed:
            raise InputError(
                f"{path} has no {','.join(untimed)} column(s): it is a placement snapshot (which pods a cluster "
                f"holds at one moment), not a trace; the simulator needs each pod's {', '.join(TIME_COLUMNS)} "
                "in seconds, as in alibaba-gpu-v2023-openb_pod_list_default.csv"
            )
        for k, r in enumerate(reader, start=2):
            if not r["scheduled_time"]:
                skipped += 1
                continue
            num_gpu = int(_number(path, k, r, "num_gpu"))
            gpus = num_gpu * _number(path, k, r, "gpu_milli") / 1000 if num_gpu else 0.0
            spec = tuple(s for s in (r.get("gpu_spec") or "").split("|") if s)
            start = _number(path, k, r, "scheduled_time")
            jobs.append(
                TraceJob(
                    name=r["name"],
                    gpus=gpus,
                    cpus=_number(path, k, r, "cpu_milli") / 1000,
                    memory_mib=int(_number(path, k, r, "memory_mib")),
                    arrival_s=_number(path, k, r, "creation_time"),
                    duration_s=max(1.0, _number(path, k, r, "deletion_time") - start),
                    gpu_types=spec,
                    model=_model_for(r["name"], seed, models) if gpus > 0 else "",
                )
            )
    jobs.sort(key=lambda j: (j.arrival_s, j.name))
    return jobs, skipped


def can_ever_hold(job: TraceJob, nodes: Sequence[Node]) -> bool:
    """Whether one node of ``nodes``, empty, could hold ``job``: enough GPUs *of a type its gpu_spec
    allows*, and memory; a CPU-only pod also needs its CPUs (a GPU job's CPUs depend on the policy: the
    simulator checks its floor)."""
    for n in nodes:
        if n.memory_mib < job.memory_mib:
            continue
        if job.gpus <= 0:
            if n.cpus >= job.cpus:
                return True
        elif n.gpus >= job.gpus and (not job.gpu_types or n.gpu_type in job.gpu_types):
            return True
    return False


def peak_gpu_demand(jobs: Sequence[TraceJob]) -> float:
    """Most GPUs the trace's jobs held at once, replayed with their trace times."""
    events = sorted(
        [(j.arrival_s, j.gpus) for j in jobs] + [(j.arrival_s + j.duration_s, -j.gpus) for j in jobs],
        key=lambda e: (e[0], e[1]),
    )
    held = peak = 0.0
    for _, delta in events:
        held += delta
        peak = max(peak, held)
    return peak


def sub_cluster(nodes: Sequence[Node], gpus: int, seed: int) -> list[Node]:
    """About ``gpus`` GPUs of nodes drawn reproducibly, plus CPU-only nodes in the list's proportion.

    GPU nodes are shuffled with ``seed`` and taken until they hold at least ``gpus`` GPUs; CPU-only nodes
    are taken in the same ratio to GPUs as in the whole list (rounded), so a slice keeps the cluster's
    spare-CPU shape.
    """
    rng = random.Random(seed)
    gpu_nodes = [n for n in nodes if n.gpus > 0]
    cpu_nodes = [n for n in nodes if n.gpus == 0]
    rng.shuffle(gpu_nodes)
    rng.shuffle(cpu_nodes)
    picked: list[Node] = []
    for node in gpu_nodes:
        if sum(n.gpus for n in picked) >= gpus:
            break
        picked.append(node)
    total = sum(n.gpus for n in gpu_nodes)
    n_cpu = round(len(cpu_nodes) * sum(n.gpus for n in picked) / total) if total else 0
    return picked + cpu_nodes[:n_cpu]


def slice_jobs(jobs: Sequence[TraceJob], nodes: Sequence[Node], seed: int) -> tuple[list[TraceJob], int]:
    """A matching slice of the trace for ``nodes``.

    Keeps each job with probability ``min(1, cluster GPUs / peak GPU demand of the whole trace)``, so the
    slice's peak demand is about the sub-cluster's size; drops the kept jobs no node of the slice could
    ever hold (:func:`can_ever_hold`), which would otherwise wait forever.

    Returns:
        The slice, and how many of its jobs were dropped as unplaceable.
    """
    capacity = sum(n.gpus for n in nodes)
    keep = min(1.0, capacity / max(peak_gpu_demand(jobs), 1e-9))
    rng = random.Random(seed)
    out = []
    dropped = 0
    for job in jobs:
        if rng.random() >= keep:
            continue
        if not can_ever_hold(job, nodes):
            dropped += 1
            continue
        out.append(job)
    return out, dropped


def with_cpus_per_gpu(nodes: Sequence[Node], cpus_per_gpu: float) -> list[Node]:
    """CPU-scarce variant: each GPU node gets ``cpus_per_gpu`` CPUs per GPU; CPU-only nodes keep theirs."""
    if cpus_per_gpu <= 0:
        raise ValueError(f"{cpus_per_gpu=} should be > 0")
    return [replace(n, cpus=n.gpus * cpus_per_gpu) if n.gpus else n for n in nodes]
