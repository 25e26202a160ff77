"""The no-queue ideal: every job at its peak from its arrival on its fastest GPU type, below every run."""

from __future__ import annotations

import pytest

from stoker.cluster.bounds import no_queue_ideal_jct
from stoker.cluster.policies import CPU_POLICIES
from stoker.cluster.simulator import SimConfig, Simulator
from stoker.cluster.trace import TraceJob
from tests.unit.cluster.helpers import HUNGRY, profiles, small_cluster, trace_jobs


def test_one_job_runs_its_duration_scaled_to_its_peak_on_its_fastest_type() -> None:
    job = TraceJob("j", 1.0, 3.0, 0, 10.0, 100.0, ("P100",), "hungry")
    (jct,) = no_queue_ideal_jct([job], small_cluster(1.0), profiles())
    # 3 CPUs per GPU is 1.0 on HUNGRY, its peak 2.4; P100 runs it at 0.9 of the reference.
    assert jct == pytest.approx(100.0 * HUNGRY(3.0) / (HUNGRY.peak * 0.9))


def test_the_ideal_total_is_below_the_oracle_and_every_policy() -> None:
    jobs = trace_jobs(30)
    nodes = small_cluster(1.0)
    ideal = no_queue_ideal_jct(jobs, nodes, profiles())
    assert len(ideal) == sum(1 for j in jobs if j.gpus > 0)
    oracle = Simulator(nodes, jobs, profiles(), SimConfig("elastic", oracle=True)).run()
    assert sum(ideal) <= sum(oracle.jct_s) * 1.000001
    for policy in CPU_POLICIES:
        assert sum(ideal) <= sum(Simulator(nodes, jobs, profiles(), SimConfig(policy)).run().jct_s), policy
