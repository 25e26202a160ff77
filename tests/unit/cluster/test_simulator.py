"""The simulator on a small hand-made cluster: every job finishes, capacity holds at every event,
a seed fixes the run, and a run resumed from ``state_dict`` continues exactly."""

from __future__ import annotations

import pytest

from stoker.cluster.policies import CPU_POLICIES
from stoker.cluster.records import node_usage
from stoker.cluster.simulator import SimConfig, Simulator
from tests.common.state import run_test_save_load_state
from tests.unit.cluster.helpers import profiles, small_cluster, trace_jobs


def make(policy: str = "elastic", seed: int = 0, placement: str = "fifo", n: int = 40) -> Simulator:
    return Simulator(small_cluster(), trace_jobs(n), profiles(), SimConfig(policy, placement, seed=seed))


@pytest.mark.parametrize("placement", ["fifo", "gavel"])
@pytest.mark.parametrize("policy", sorted(CPU_POLICIES))
def test_every_job_finishes_and_capacity_holds_at_every_event(policy: str, placement: str) -> None:
    sim = make(policy, placement=placement)
    nodes = {n.name: n for n in sim.nodes}
    while not sim.done:
        sim.step()
        gpus: dict[str, float] = {}
        alloc = {name: run.alloc for name, run in sim.running.items()}
        for name, run in sim.running.items():
            gpus[run.node] = gpus.get(run.node, 0.0) + sim.by_name[name].gpus
            job = sim.by_name[name]
            if job.gpu_types:
                assert nodes[run.node].gpu_type in job.gpu_types
        for node, used in node_usage(alloc).items():
            assert used <= nodes[node].cpus + 1e-6, (node, used)
        for node, used in gpus.items():
            assert used <= nodes[node].gpus + 1e-6
    result = sim.result()
    assert len(result.jct_s) == sum(1 for j in sim.jobs if j.gpus > 0)  # nobody starved
    assert all(x > 0 for x in result.jct_s)
    assert 0 < result.gpu_util <= 1 and 0 < result.cpu_util <= 1


def test_a_seed_fixes_the_run_and_another_seed_changes_the_noise() -> None:
    a, b, c = make(seed=3).run(), make(seed=3).run(), make(seed=4).run()
    assert a.summary() == b.summary() and a.jct_s == b.jct_s
    assert a.samples != c.samples


def test_static_runs_jobs_at_their_trace_speed_on_the_reference_gpu() -> None:
    sim = Simulator(small_cluster(cpus_per_gpu=12.0), trace_jobs(5), profiles(), SimConfig("static"))
    result = sim.run()
    # Lightly loaded, no queue: a job's JCT is its trace duration over its GPU type's speed.
    for job, jct in zip([j for j in sim.jobs if j.gpus > 0], result.jct_s):
        assert jct >= job.duration_s * 0.99


def test_elastic_beats_static_when_cpus_are_scarce() -> None:
    jobs = trace_jobs(40)
    static = Simulator(small_cluster(1.0), jobs, profiles(), SimConfig("static")).run()
    elastic = Simulator(small_cluster(1.0), jobs, profiles(), SimConfig("elastic")).run()
    assert sum(elastic.jct_s) < sum(static.jct_s)


def test_simulator_resumes_from_its_state() -> None:
    def advance(sim: Simulator) -> tuple:
        t = sim.step()
        return (
            t,
            sorted(sim.finished.items()),
            sorted((k, round(v.work, 6)) for k, v in sim.running.items()),
        )

    run_test_save_load_state(lambda: make("elastic", n=15), advance, steps=30, checkpoints=[0, 7, 20, 29])


def test_busy_fraction_integrates_the_samples() -> None:
    from stoker.cluster.simulator import SimResult

    r = SimResult("x", (1.0,), 10.0, 0.0, 0.0, ((0.0, 2.0, 2.0, 0.0), (5.0, 1.0, 1.0, 0.0)))
    assert r.busy_fraction(0.0, 10.0, gpus=2.0) == (2.0 * 5 + 1.0 * 5) / 20
    assert r.busy_fraction(4.0, 6.0, gpus=2.0) == (2.0 + 1.0) / 4


@pytest.mark.parametrize("policy", sorted(CPU_POLICIES))
def test_jobs_no_node_can_ever_hold_are_dropped_and_counted_not_stuck(policy: str) -> None:
    from stoker.cluster.trace import TraceJob

    # Handed to the simulator directly (slice_jobs would drop them first): more memory than any node,
    # 8 GPUs of a type whose nodes hold 2, a CPU-only pod larger than every node.
    odd = [
        TraceJob("huge-mem", 1.0, 2.0, 1 << 21, 5.0, 100.0, (), "hungry"),
        TraceJob("eight-p100", 8.0, 8.0, 1024, 6.0, 100.0, ("P100",), "hungry"),
        TraceJob("cpu-giant", 0.0, 64.0, 1024, 7.0, 100.0, (), ""),
    ]
    jobs = sorted([*trace_jobs(10), *odd], key=lambda j: (j.arrival_s, j.name))
    result = Simulator(small_cluster(), jobs, profiles(), SimConfig(policy)).run()
    assert result.dropped == 3 and result.summary()["dropped"] == 3
    assert len(result.jct_s) == sum(1 for j in jobs if j.gpus > 0) - 2


def test_the_oracle_runs_every_job_at_its_peak_and_bounds_every_policy() -> None:
    jobs = trace_jobs(30)
    oracle = Simulator(small_cluster(1.0), jobs, profiles(), SimConfig("elastic", oracle=True)).run()
    assert oracle.policy == "oracle" and oracle.gpu_util > 0
    for policy in CPU_POLICIES:
        result = Simulator(small_cluster(1.0), jobs, profiles(), SimConfig(policy)).run()
        assert sum(oracle.jct_s) <= sum(result.jct_s) * 1.000001, policy


def test_policy_rounds_between_events_as_a_live_controller_runs_them() -> None:
    events = make("elastic", n=10)
    rounds = Simulator(small_cluster(), trace_jobs(10), profiles(), SimConfig("elastic", round_s=30.0))
    events.run()
    result = rounds.run()
    assert len(result.samples) > len(events.result().samples)  # a round every 30 s, not only at events
    gaps = [b[0] - a[0] for a, b in zip(result.samples, result.samples[1:])]
    assert max(gaps) <= 30.0 + 1e-6 and len(result.jct_s) == 10
    with pytest.raises(ValueError, match="round_s=-1"):
        Simulator(small_cluster(), trace_jobs(3), profiles(), SimConfig(round_s=-1.0))
