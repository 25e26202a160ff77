from __future__ import annotations

import pytest

from stoker.backends.placement import NodeRecord, PlacementRequest, get_policy
from stoker.backends.placement.free_cpus import free_cpus_policy


def node(nid: str, free: float, total: float = 4, workers: int = 0, trainer: bool = False) -> NodeRecord:
    return NodeRecord(nid, free, total, {"ray.io/node-id": nid}, workers, trainer)


def req(*nodes: NodeRecord, num_cpus: float = 1, trainer_cpus: float = 1) -> PlacementRequest:
    return PlacementRequest(num_cpus, trainer_cpus, nodes)


def test_most_free_cpus_wins():
    assert free_cpus_policy(req(node("a", 1), node("b", 3), node("c", 2))).node_id == "b"


def test_trainer_reserve_counts_against_its_node():
    # The trainer's node reports 2 free, but 1 is the trainer's: 1 left, less than b's 1.5.
    got = free_cpus_policy(req(node("t", 2, trainer=True), node("b", 1.5)))
    assert got.node_id == "b"


def test_ties_go_to_the_node_with_fewer_workers_of_this_pool():
    got = free_cpus_policy(req(node("a", 2, workers=3), node("b", 2, workers=1)))
    assert got.node_id == "b"


def test_busy_trainer_node_is_avoided_when_nothing_fits():
    got = free_cpus_policy(req(node("t", 1, trainer=True), node("b", 0.5), num_cpus=1))
    assert got.node_id is None and got.avoid == ("t",)


def test_single_node_cluster_is_never_avoided():
    # Only the trainer's node: avoiding it would leave the worker unschedulable forever.
    got = free_cpus_policy(req(node("t", 0.5, trainer=True)))
    assert got.node_id is None and got.avoid == ()


def test_the_trainer_node_takes_workers_when_it_has_room():
    got = free_cpus_policy(req(node("t", 4, trainer=True), node("b", 0)))
    assert got.node_id == "t"


def test_worker_cpus_count():
    got = free_cpus_policy(req(node("a", 1.5), node("b", 2), num_cpus=2, trainer_cpus=0))
    assert got.node_id == "b"
    got = free_cpus_policy(req(node("a", 1.5), num_cpus=2, trainer_cpus=0))
    assert got.node_id is None


def test_registry_names_the_choices():
    assert get_policy("free_cpus") is free_cpus_policy
    with pytest.raises(
        ValueError, match=r"unknown worker placement policy 'nearest'; choose one of \['free_cpus', 'spread'\]"
    ):
        get_policy("nearest")
