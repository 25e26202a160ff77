"""Loads the Alibaba GPU-2023 trace (pods and nodes) and cuts reproducible slices of it.

The trace (alibaba/clusterdata ``cluster-trace-gpu-v2023``, Weng et al. ATC'23) has no model names; each
task gets a Synergy model drawn from a hash of (seed, pod name), so a pod keeps its model whatever slice it
lands in. docs/simulator.md lists every choice made here.
"""

from __future__ import annotations

import csv
import hashlib
import math
import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from stoker.cluster.records import Node
from stoker.errors import InputError

PODS_FILE = "alibaba-gpu-v2023-openb_pod_list_default.csv"
NODES_FILE = "alibaba-gpu-v2023-openb_node_list_all_node.csv"
POD_COLUMNS = ("name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli")
TIME_COLUMNS = ("creation_time", "deletion_time", "scheduled_time")
NODE_COLUMNS = ("sn", "cpu_milli", "memory_mib", "gpu", "model")
# Largest value a column may hold: far above any real cluster (the trace's largest are 120,200 milli-CPUs,
# 737,280 MiB, 8 GPUs, 1.3e7 s), far below what overflows a sum. Every value must also be finite and >= 0.
LIMITS = {
    "cpu_milli": 1e9,
    "memory_mib": 1e12,
    "num_gpu": 1e6,
    "gpu_milli": 1e6,
    "gpu": 1e6,
    "creation_time": 1e12,
    "deletion_time": 1e12,
    "scheduled_time": 1e12,
}


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
    if path.is_dir():
        raise InputError(f"{path} is a folder; pass the CSV file in it")
    if not path.is_file():
        raise InputError(
            f"{path} not found; pass --trace/--nodes, set STOKER_DATA_DIR to the folder with the "
            "alibaba/clusterdata cluster-trace-gpu-v2023 CSVs, or run `stoker data fetch` (docs/simulator.md)"
        )
    return path


@contextmanager
def _reading(path: Path) -> Iterator[csv.DictReader]:
    """A CSV reader over ``path`` (UTF-8) whose decoding, CSV and I/O errors become one-line InputErrors."""
    try:
        with path.open(newline="", encoding="utf-8") as f:
            yield csv.DictReader(f)
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} is not UTF-8 text (byte {exc.start}: {exc.reason}); give the CSV file") from None
    except csv.Error as exc:
        raise InputError(f"{path} is not a readable CSV ({exc}); give the CSV file") from None
    except OSError as exc:
        raise InputError(f"{path} cannot be read ({exc.strerror or exc}); check the path and permissions") from None


def _columns(path: Path, fields: Sequence[str] | None, needed: Sequence[str], what: str) -> None:
    if not fields:
        raise InputError(f"{path} is empty; a {what} CSV starts with the header {','.join(needed)}")
    missing = [c for c in needed if c not in fields]
    if missing:
        raise InputError(f"{path} lacks the column(s) {','.join(missing)} of a {what} CSV (it has {','.join(fields)})")


def _number(path: Path, line: int, row: dict[str, str], key: str) -> float:
    try:
        value = float(row[key])
    except (TypeError, ValueError):
        raise InputError(f"{path} line {line}: {key}={row[key]!r} is not a number") from None
    high = LIMITS.get(key, math.inf)
    if not (math.isfinite(value) and 0 <= value <= high):
        # NaN would pass every comparison and silently reorder or drop jobs: refuse it with the line.
        raise InputError(f"{path} line {line}: {key}={row[key]!r} should be a finite number in [0, {high:g}]")
    return value


def load_nodes(path: str | Path) -> list[Node]:
    """Reads a node list CSV (``sn,cpu_milli,memory_mib,gpu,model``).

    Raises:
        InputError: The file is missing, lacks a column or holds a value that is not a number.
    """
    path = _check(Path(path))
    with _reading(path) as reader:
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

    Pods that never ran (phase ``Pending``, no ``scheduled_time``) have no run time: they are left out and
    counted. A pod that ran must have a ``creation_time`` and a ``deletion_time``; a row without one, or
    with any value that is not a finite number in range (NaN, inf, negative), is refused with its line.

    Returns:
        The jobs sorted by arrival, and how many pending pods were left out.

    Raises:
        InputError: The file is missing, a folder, not UTF-8 CSV, lacks a column, holds a value that is
            not a finite number in range or a scheduled pod without its times, or is a placement snapshot
            (no time columns) rather than a trace.
    """
    path = _check(Path(path))
    jobs: list[TraceJob] = []
    skipped = 0
    with _reading(path) as reader:
        _columns(path, reader.fieldnames, POD_COLUMNS, "pod list")
        untimed = [c for c in TIME_COLUMNS if c not in (reader.fieldnames or ())]
        if untimed:
            raise InputError(
                f"{path} has no {','.join(untimed)} column(s): it is a placement snapshot (which pods a cluster "
                f"holds at one moment), not a trace; the simulator needs each pod's {', '.join(TIME_COLUMNS)} "
                "in seconds, as in alibaba-gpu-v2023-openb_pod_list_default.csv"
            )
        for k, r in enumerate(reader, start=2):
            if not (r["scheduled_time"] or "").strip():
                skipped += 1
                continue
            for key in ("creation_time", "deletion_time"):
                if not (r[key] or "").strip():
                    raise InputError(
                        f"{path} line {k}: pod {r['name']!r} was scheduled but has no {key}; fix the row or leave "
                        "scheduled_time empty (a pending pod, left out and counted)"
                    )
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
