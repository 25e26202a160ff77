"""Placement policies: gpu_spec honoured, capacity respected, backfill without starvation."""

from __future__ import annotations

import random

import numpy as np
import pytest

from stoker.cluster.policies import PLACEMENT_POLICIES, Capacity, placement_policy
from stoker.cluster.records import Job, Node
from tests.common.soak import soak_trials


def capacity(nodes: list[Node]) -> Capacity:
    return Capacity(
        names=[n.name for n in nodes],
        gpu_types=np.array([n.gpu_type for n in nodes]),
        gpus=np.array([float(n.gpus) for n in nodes]),
        cpus=np.array([n.cpus for n in nodes]),
        gpu_free=np.array([float(n.gpus) for n in nodes]),
        cpu_free=np.array([n.cpus for n in nodes]),
        mem_free=np.array([float(n.memory_mib) for n in nodes]),
    )


def request_floor(job: Job) -> np.ndarray:
    return np.full(1, job.cpus)


NODES = [
    Node("v0", 24.0, 1000, 8, "V100"),
    Node("p0", 6.0, 1000, 2, "P100"),
    Node("t0", 8.0, 1000, 2, "T4"),
]


@pytest.mark.parametrize("name", sorted(PLACEMENT_POLICIES))
def test_gpu_spec_and_capacity_are_honoured(name: str) -> None:
    place = placement_policy(name)
    rng = random.Random(name)
    for _ in range(soak_trials(200)):
        cap = capacity(NODES)
        queue = [
            Job(
                f"j{i}",
                rng.choice([0.5, 1.0, 2.0, 8.0]),
                rng.choice([1.0, 3.0, 6.0]),
                memory_mib=100,
                gpu_types=rng.choice([(), ("P100",), ("T4", "V100")]),
                speeds={"V100": 1.0, "P100": rng.random(), "T4": rng.random()},
            )
            for i in range(rng.randint(1, 12))
        ]
        started = place(queue, cap, lambda j: np.full(len(NODES), j.cpus))
        by_name = {j.name: j for j in queue}
        gpus = dict.fromkeys(cap.names, 0.0)
        cpus = dict.fromkeys(cap.names, 0.0)
        for job_name, node in started:
            job = by_name[job_name]
            node_type = next(n.gpu_type for n in NODES if n.name == node)
            assert job.allows(node_type), (job, node)
            gpus[node] += job.gpus
            cpus[node] += job.cpus
        for n in NODES:
            assert gpus[n.name] <= n.gpus + 1e-9 and cpus[n.name] <= n.cpus + 1e-9
        assert len({j for j, _ in started}) == len(started)


def test_fifo_backfills_small_jobs_but_not_onto_the_reserved_node() -> None:
    nodes = [Node("a", 96.0, 1000, 8, "V100"), Node("b", 96.0, 1000, 8, "V100")]
    cap = capacity(nodes)
    cap.gpu_free[:] = [4.0, 2.0]  # both busy: the 8-GPU job cannot start
    queue = [Job("big", 8.0, 8.0), Job("small1", 1.0, 1.0), Job("small2", 1.0, 1.0), Job("small3", 1.0, 1.0)]
    started = placement_policy("fifo")(queue, cap, lambda j: np.full(2, j.cpus))
    # "big" reserves node a (most free GPUs); the small ones backfill onto b only.
    assert started == [("small1", "b"), ("small2", "b")]


def test_no_starvation_the_big_job_starts_once_its_reserved_node_drains() -> None:
    """Replays a stream of small jobs that would keep an 8-GPU job waiting forever without a reservation."""
    nodes = [Node("a", 96.0, 1000, 8, "V100"), Node("b", 96.0, 1000, 8, "V100")]
    running: dict[str, tuple[str, float, int]] = {}  # job -> (node, gpus, finish round)
    queue = [Job("big", 8.0, 8.0)]
    big_started = None
    for rnd in range(200):
        for name in [n for n, (_, _, end) in running.items() if end <= rnd]:
            running.pop(name)
        queue += [Job(f"s{rnd}-{k}", 1.0, 1.0) for k in range(3)]  # more small work arrives every round
        cap = capacity(nodes)
        for node, gpus, _ in running.values():
            cap.gpu_free[cap.names.index(node)] -= gpus
        started = placement_policy("fifo")(queue, cap, lambda j: np.full(2, j.cpus))
        for name, node in started:
            job = next(j for j in queue if j.name == name)
            running[name] = (node, job.gpus, rnd + (50 if name == "big" else 3))
            if name == "big":
                big_started = rnd
        queue = [j for j in queue if j.name not in dict(started)]
        if big_started is not None:
            break
    assert big_started is not None and big_started <= 5


def test_gavel_gives_the_fast_gpu_to_the_job_that_gains_most_from_it() -> None:
    nodes = [Node("v", 8.0, 1000, 1, "V100"), Node("p", 8.0, 1000, 1, "P100")]
    # "cnn" loses little on a P100, "lm" loses half: lm gets the V100 even though cnn came first.
    queue = [
        Job("cnn", 1.0, 1.0, speeds={"V100": 1.0, "P100": 0.9}),
        Job("lm", 1.0, 1.0, speeds={"V100": 1.0, "P100": 0.5}),
    ]
    started = dict(placement_policy("gavel")(queue, capacity(nodes), lambda j: np.full(2, j.cpus)))
    assert started == {"cnn": "p", "lm": "v"}
    fifo = dict(placement_policy("fifo")(queue, capacity(nodes), lambda j: np.full(2, j.cpus)))
    assert fifo["cnn"] == "v"  # first fit by order: the type-blind baseline


def test_unknown_placement_names_the_choices() -> None:
    with pytest.raises(ValueError, match="choose one of"):
        placement_policy("best")


def test_gavel_puts_a_lone_job_on_its_fastest_type() -> None:
    nodes = [Node("p", 8.0, 1000, 1, "P100"), Node("v", 8.0, 1000, 1, "V100")]
    queue = [Job("lm", 1.0, 1.0, speeds={"V100": 1.0, "P100": 0.5})]
    assert placement_policy("gavel")(queue, capacity(nodes), lambda j: np.full(2, j.cpus)) == [("lm", "v")]
