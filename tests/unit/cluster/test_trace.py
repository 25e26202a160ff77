from __future__ import annotations

from pathlib import Path

import pytest

from stoker.cluster.records import Node
from stoker.cluster.trace import (
    load_nodes,
    load_pods,
    peak_gpu_demand,
    slice_jobs,
    sub_cluster,
    with_cpus_per_gpu,
)
from stoker.errors import InputError

HEADER = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time"
PODS = (
    HEADER
    + """,scheduled_time
p0,12000,16384,1,1000,,LS,Running,0,1000,0
p1,6000,12288,1,460,,LS,Running,10,500,20
p2,8000,1024,2,1000,V100M16|V100M32,LS,Failed,30,90,40
p3,4000,1024,0,0,,BE,Succeeded,35,95,35
p4,4000,1024,1,1000,,BE,Pending,50,900,
"""
)
NODES = """sn,cpu_milli,memory_mib,gpu,model
n0,96000,262144,8,G2
n1,16000,262144,2,P100
n2,32000,262144,0,
"""


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "pods.csv").write_text(PODS)
    (tmp_path / "nodes.csv").write_text(NODES)
    return tmp_path / "pods.csv", tmp_path / "nodes.csv"


def test_pods_are_read_with_shares_specs_and_run_times(files: tuple[Path, Path]) -> None:
    jobs, skipped = load_pods(files[0], ["a", "b", "c"], seed=1)
    assert skipped == 1  # p4 never ran
    by = {j.name: j for j in jobs}
    assert by["p1"].gpus == pytest.approx(0.46) and by["p1"].duration_s == 480
    assert by["p2"].gpu_types == ("V100M16", "V100M32") and by["p2"].gpus == 2
    assert by["p3"].gpus == 0 and by["p3"].model == ""
    assert peak_gpu_demand(jobs) == pytest.approx(3.46)


def test_model_assignment_is_seeded_and_independent_of_the_slice(files: tuple[Path, Path]) -> None:
    a, _ = load_pods(files[0], ["a", "b", "c", "d", "e"], seed=1)
    b, _ = load_pods(files[0], ["a", "b", "c", "d", "e"], seed=1)
    c, _ = load_pods(files[0], ["a", "b", "c", "d", "e"], seed=2)
    assert [j.model for j in a] == [j.model for j in b]
    assert [j.model for j in a] != [j.model for j in c] or len(a) < 3


def test_nodes_and_cpu_scarce_variant(files: tuple[Path, Path]) -> None:
    nodes = load_nodes(files[1])
    assert nodes[0] == Node("n0", 96.0, 262144, 8, "G2")
    scarce = with_cpus_per_gpu(nodes, 3.0)
    assert [n.cpus for n in scarce] == [24.0, 6.0, 32.0]  # CPU-only node unchanged


def test_sub_cluster_and_slice_are_reproducible() -> None:
    nodes = [Node(f"g{i}", 96.0, 1, 8, "G2") for i in range(20)] + [Node(f"c{i}", 32.0, 1, 0) for i in range(5)]
    a, b = sub_cluster(nodes, 30, seed=5), sub_cluster(nodes, 30, seed=5)
    assert a == b and sum(n.gpus for n in a) == 32
    assert sum(1 for n in a if n.gpus == 0) == 1  # 5 CPU nodes * 32/160 GPUs
    assert sub_cluster(nodes, 30, seed=6) != a


def test_slice_drops_jobs_no_node_can_hold(files: tuple[Path, Path]) -> None:
    jobs, _ = load_pods(files[0], ["a"], seed=0)
    only_p100 = [Node("n1", 16.0, 1 << 20, 4, "P100")]  # 4 GPUs >= peak demand: no thinning
    sliced, dropped = slice_jobs(jobs, only_p100, seed=0)
    kept = {j.name for j in sliced}
    assert "p2" not in kept and dropped == 1  # wants a V100
    assert {"p0", "p1", "p3"} <= kept


def test_a_job_needs_its_gpus_on_one_node_of_an_allowed_type(files: tuple[Path, Path]) -> None:
    jobs, _ = load_pods(files[0], ["a"], seed=0)
    # p2 wants 2 V100s: the 8-GPU node is a T4, the V100 node has only one.
    nodes = [Node("t4", 96.0, 1 << 20, 8, "T4"), Node("v", 96.0, 1 << 20, 1, "V100M16")]
    sliced, dropped = slice_jobs(jobs, nodes, seed=0)
    assert "p2" not in {j.name for j in sliced} and dropped == 1
    big = [*nodes, Node("v2", 96.0, 1 << 20, 2, "V100M32")]
    assert "p2" in {j.name for j in slice_jobs(jobs, big, seed=0)[0]}


def test_a_pod_list_without_time_columns_is_refused_as_a_placement_snapshot(tmp_path: Path) -> None:
    (tmp_path / "snap.csv").write_text("name,cpu_milli,memory_mib,num_gpu,gpu_milli\np0,12000,16384,1,1000\n")
    with pytest.raises(InputError, match=r"placement snapshot.*creation_time, deletion_time, scheduled_time"):
        load_pods(tmp_path / "snap.csv", ["a"])


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "is empty"),
        ("name,cpu_milli,num_gpu\np0,1,1\n", "lacks the column\\(s\\) memory_mib,gpu_milli"),
        (HEADER + ",scheduled_time\np0,lots,1,1,1000,,LS,Running,0,1,0\n", "line 2: cpu_milli='lots'"),
    ],
)
def test_malformed_pod_lists_are_named(tmp_path: Path, text: str, match: str) -> None:
    (tmp_path / "pods.csv").write_text(text)
    with pytest.raises(InputError, match=match):
        load_pods(tmp_path / "pods.csv", ["a"])


def test_missing_files_and_bad_node_lists_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_pods(tmp_path / "nope.csv", ["a"])
    (tmp_path / "nodes.csv").write_text("sn,cpu_milli\nn0,1000\n")
    with pytest.raises(InputError, match="memory_mib,gpu,model"):
        load_nodes(tmp_path / "nodes.csv")
