"""The controller refuses what a job must not send: non-finite or out-of-range numbers, another job's name
or token, a wrong secret. A refusal is logged, changes no budget and no stored report, and the rounds go on."""

from __future__ import annotations

import dataclasses
import logging
import math
import pickle

import pytest

from stoker.cluster.admission import Refused, check_report, digest, gpu_limit, matches
from stoker.cluster.learning import JobReport
from stoker.cluster.records import Node
from stoker.cluster.service import ControllerService
from tests.unit.cluster.test_service import NODES, Clock, hungry

GOOD = JobReport("a", "a", 1.0, 10.0, 0.6, 1.0)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("gpus", math.nan),
        ("gpus", math.inf),
        ("gpus", 1e7),  # the case: a claim of 1e7 GPUs took 6 of 8 CPUs
        ("gpus", -1.0),
        ("gpus", 0.0),
        ("gpus", True),
        ("gpus", "1"),
        ("throughput", math.nan),
        ("throughput", -math.inf),
        ("throughput", 1e308),
        ("throughput", -5.0),
        ("data_wait", math.nan),
        ("data_wait", 1.5),
        ("data_wait", -0.1),
        ("workers", math.inf),
        ("workers", -1.0),
        ("workers", 1e12),
        ("name", ""),
        ("name", "x" * 1000),
        ("name", "a\nb"),
        ("node", 7),
    ],
)
def test_a_hostile_report_is_refused_logged_and_changes_nothing(field: str, value: object, caplog) -> None:
    clock = Clock()
    svc = ControllerService(lambda: NODES, "elastic", period_s=1.0, clock=clock)
    token = svc.join(GOOD).token
    for _ in range(3):
        svc.report(hungry("a", svc.members["a"].budget), token)
        clock.t += 1.0
        svc.round()
    budget, stored, rounds = svc.members["a"].budget, svc.members["a"].report, svc.controller.rounds
    bad = dataclasses.replace(GOOD, **{field: value})
    with caplog.at_level(logging.WARNING, logger="stoker"), pytest.raises(Refused, match=field):
        svc.report(bad, token)
    assert svc.members["a"].budget == budget and svc.members["a"].report == stored
    assert any("refused" in r.getMessage() and field in r.getMessage() for r in caplog.records)
    assert svc.refusals and field in svc.refusals[-1]
    # The rounds go on: the next round runs the policy over the last good report.
    svc.round()
    assert svc.controller.rounds == rounds + 1 and svc.members["a"].budget == budget
    assert svc.failed_rounds == 0


def test_a_hostile_first_report_does_not_join() -> None:
    svc = ControllerService(lambda: NODES, period_s=1.0, clock=Clock())
    with pytest.raises(Refused, match="gpus"):
        svc.join(dataclasses.replace(GOOD, gpus=math.nan))
    assert svc.members == {} and svc.controller.rounds == 0


def test_only_a_jobs_own_token_reports_for_it_or_ends_it() -> None:
    clock = Clock()
    svc = ControllerService(lambda: NODES, period_s=1.0, clock=clock)
    mine = svc.join(hungry("a", 1)).token
    theirs = svc.join(hungry("b", 1, node="b")).token
    before = svc.members["a"].report
    with pytest.raises(Refused, match="token is not this job's"):
        svc.report(hungry("a", 6), theirs)  # b reporting under a's name
    with pytest.raises(Refused, match="token"):
        svc.report(hungry("a", 6), "guess")
    with pytest.raises(Refused, match="token"):
        svc.leave("a", theirs)
    with pytest.raises(Refused, match="member already"):
        svc.join(hungry("a", 6))  # nor can a newcomer take the name
    assert svc.members["a"].report == before and set(svc.members) == {"a", "b"}
    svc.leave("a", mine)
    assert set(svc.members) == {"b"}
    with pytest.raises(Refused, match="not a member") as info:
        svc.report(hungry("a", 1), mine)
    assert info.value.rejoin  # the way out the job takes: join again


def test_joining_needs_the_operators_secret_and_only_it_evicts() -> None:
    svc = ControllerService(lambda: NODES, period_s=1.0, clock=Clock(), secret_sha256=digest("s3cret"))
    with pytest.raises(Refused, match="secret"):
        svc.join(hungry("a", 1))
    with pytest.raises(Refused, match="secret"):
        svc.join(hungry("a", 1), "wrong")
    svc.join(hungry("a", 1), "s3cret")
    with pytest.raises(Refused, match="wrong secret"):
        svc.evict("a", "wrong")
    assert svc.evict("a", "s3cret") and svc.members == {}
    assert not svc.evict("a", "s3cret")
    with pytest.raises(Refused, match="evicted") as info:
        svc.join(hungry("a", 1), "s3cret")  # an evicted job does not just join again
    assert not info.value.rejoin
    again = ControllerService(lambda: NODES, period_s=1.0, clock=Clock(), secret_sha256=digest("s3cret"))
    again.load_state_dict(svc.state_dict())
    assert again.evicted == {"a"}


def test_without_a_secret_nobody_can_evict() -> None:
    svc = ControllerService(lambda: NODES, period_s=1.0, clock=Clock())
    svc.join(hungry("a", 1))
    with pytest.raises(Refused, match="no operator secret"):
        svc.evict("a", "")
    assert "a" in svc.members


def test_a_failing_round_is_logged_and_the_next_one_runs(caplog) -> None:
    calls = {"n": 0}

    def flaky() -> tuple[Node, ...]:
        calls["n"] += 1
        if calls["n"] == 3:  # 1: construction, 2: the join's round, 3: this one
            raise ConnectionError("Ray's node table is unreachable")
        return NODES

    svc = ControllerService(flaky, period_s=1.0, clock=Clock())
    svc.join(hungry("a", 1))
    with caplog.at_level(logging.ERROR, logger="stoker"):
        svc._safe_round()
    assert svc.failed_rounds == 1 and "round" in caplog.text
    rounds = svc.controller.rounds
    svc._safe_round()
    assert svc.controller.rounds == rounds + 1


def test_gpu_claims_are_bounded_by_the_node_or_the_cluster() -> None:
    nodes = (Node("g", 8, 0, 4), Node("h", 8, 0, 2), Node("c", 16, 0, 0))
    assert gpu_limit("g", nodes) == 4 and gpu_limit("h", nodes) == 2
    assert gpu_limit("c", nodes) == 6 and gpu_limit("elsewhere", nodes) == 6
    assert gpu_limit("x", (Node("c", 16, 0, 0),)) == 1  # a CPU-only Ray cluster
    assert check_report(dataclasses.replace(GOOD, node="g", gpus=4.0), nodes).gpus == 4.0
    with pytest.raises(Refused, match="gpus"):
        check_report(dataclasses.replace(GOOD, node="h", gpus=3.0), nodes)


def test_tokens_compare_by_digest_and_refusals_cross_processes_whole() -> None:
    assert matches("t", digest("t")) and not matches("u", digest("t")) and not matches(None, digest("t"))
    assert not matches("t", None)
    again = pickle.loads(pickle.dumps(Refused("job 'a' is not a member", rejoin=True)))
    assert again.rejoin and str(again) == "job 'a' is not a member"


def test_a_tampered_state_file_does_not_restore_a_hostile_report(caplog) -> None:
    svc = ControllerService(lambda: NODES, period_s=1.0, clock=Clock())
    svc.join(hungry("a", 1))
    svc.join(hungry("b", 1, node="b"))
    state = svc.state_dict()
    state["jobs"]["a"]["report"]["gpus"] = math.nan  # what json.loads("NaN") gives back
    again = ControllerService(lambda: NODES, period_s=1.0, clock=Clock())
    with caplog.at_level(logging.WARNING, logger="stoker"):
        again.load_state_dict(state)
    assert set(again.members) == {"b"} and "job 'a' left out" in caplog.text
    again.round()  # and the rounds run
