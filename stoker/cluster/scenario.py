"""One simulation scenario: which nodes, which slice of the trace, which profiles; shared by the
``stoker simulate`` command and the ``cluster`` benchmark so both judge the same thing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stoker.cluster.profiles import Profiles, load_profiles
from stoker.cluster.records import Node
from stoker.cluster.trace import (
    NODES_FILE,
    PODS_FILE,
    TraceJob,
    load_nodes,
    load_pods,
    slice_jobs,
    sub_cluster,
    with_cpus_per_gpu,
)
from stoker.paths import data_file, data_files


@dataclass(frozen=True)
class Scenario:
    """Nodes and jobs of one run.

    Attributes:
        nodes: The (sub-)cluster.
        jobs: The matching trace jobs, sorted by arrival.
        profiles: Synergy curves and Gavel speeds.
        skipped_pending: Pods left out because they never ran in the trace.
        unplaceable: Pods of the slice left out because no node of it could ever hold them.
    """

    nodes: list[Node]
    jobs: list[TraceJob]
    profiles: Profiles
    skipped_pending: int
    unplaceable: int = 0


def default_trace() -> Path:
    return data_file(PODS_FILE)


def default_nodes() -> Path:
    return data_file(NODES_FILE)


def build(
    trace: str | Path | None = None,
    nodes: str | Path | None = None,
    gpus: int | None = None,
    seed: int = 0,
    cpus_per_gpu: float | None = None,
    profiles_dir: str | Path | None = None,
) -> Scenario:
    """Loads the trace and node list and cuts the slice.

    Args:
        trace: Pod list CSV (default: the Alibaba GPU-2023 ``openb_pod_list_default``).
        nodes: Node list CSV (default: ``openb_node_list_all_node``, CPU-only nodes included).
        gpus: Reproducible sub-cluster of about this many GPUs and a matching trace slice; None for all.
        seed: Seeds model assignment, node choice and the slice.
        cpus_per_gpu: CPU-scarce variant: GPU nodes get this many CPUs per GPU.
        profiles_dir: Folder with the Synergy and Gavel files (default: the data folder).
    """
    profiles = load_profiles(profiles_dir)
    # Both defaults are looked up before either is read, so a newcomer hears of every missing file at once.
    defaults = [name for name, given in ((PODS_FILE, trace), (NODES_FILE, nodes)) if not given]
    found = dict(zip(defaults, data_files(*defaults)))
    all_nodes = load_nodes(nodes or found[NODES_FILE])
    jobs, skipped = load_pods(trace or found[PODS_FILE], profiles.models, seed)
    picked = sub_cluster(all_nodes, gpus, seed) if gpus is not None else list(all_nodes)
    if cpus_per_gpu is not None:
        picked = with_cpus_per_gpu(picked, cpus_per_gpu)
    kept, unplaceable = slice_jobs(jobs, picked, seed)
    return Scenario(picked, kept, profiles, skipped, unplaceable)
