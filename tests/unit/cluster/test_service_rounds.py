"""The service's rounds are timed and can be audited: a round's budgets are the policy's, run offline on
the same state, reports and nodes (what ``stoker bench cluster_scale`` checks at 1,000 jobs)."""

from __future__ import annotations

import json

from stoker.cluster.controller import Controller
from stoker.cluster.learning import JobReport
from stoker.cluster.records import Node
from stoker.cluster.service import Budget, ControllerService

NODES = (Node("a", 8.0, 0, 0), Node("b", 4.0, 0, 0))


def send(svc: ControllerService, r: JobReport, tokens: dict[str, str]) -> Budget:
    """What a job does: joins with its first report (for a token), then reports with that token."""
    if r.name not in svc.members:
        joined = svc.join(r)
        tokens[r.name] = joined.token
        return joined.budget
    return svc.report(r, tokens[r.name])


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_an_audited_round_equals_the_policy_run_offline_and_every_round_is_timed() -> None:
    clock = Clock()
    svc = ControllerService(lambda: NODES, "elastic", period_s=1.0, clock=clock)
    budgets = {f"j{i}": 1 for i in range(6)}
    tokens: dict[str, str] = {}
    for _ in range(5):  # jobs whose throughput grows with workers up to different knees
        for i, name in enumerate(budgets):
            w = budgets[name]
            tput = 20.0 * min(w, 1 + i % 3)
            wait = 1.0 - tput / (20.0 * (1 + i % 3))
            budgets[name] = send(svc, JobReport(name, "ab"[i % 2], 1.0, tput, wait, float(w)), tokens).workers
        clock.t += 1.0
        svc.round()
    audit = svc.audited_round()
    assert len(audit.reports) == 6 and audit.nodes == NODES
    offline = Controller(audit.nodes, "elastic", grid=(1, 2, 3, 4, 6, 8))
    offline.load_state_dict(json.loads(json.dumps(audit.controller_state)))  # as saved: plain JSON
    assert offline.decide(list(audit.reports), list(audit.nodes), audit.learned) == audit.budgets
    assert max(audit.budgets.values()) > 1  # the policy did reallocate: the check is not trivially equal
    # The 6 joins at one instant make one round, then 5 periodic rounds; all timed but the audited one
    # (it also copies the state).
    assert len(svc.round_s) == 6 and all(t >= 0 for t in svc.round_s)


def test_a_round_audit_leaves_out_jobs_the_round_drops_as_silent() -> None:
    clock = Clock()
    svc = ControllerService(lambda: NODES, "elastic", period_s=1.0, clock=clock)
    svc.join(JobReport("gone", "a", 1.0, 10.0, 0.5, 1.0))
    clock.t += 10.0
    svc.join(JobReport("here", "a", 1.0, 10.0, 0.5, 1.0))
    audit = svc.audited_round()
    assert [r.name for r in audit.reports] == ["here"] and set(audit.budgets) == {"here"}


def test_a_burst_of_joins_makes_one_round_and_a_later_join_its_own() -> None:
    clock = Clock()
    svc = ControllerService(lambda: NODES, "elastic", period_s=1.0, clock=clock)
    replies = [svc.join(JobReport(f"j{i}", "a", 1.0, 10.0, 0.5, 1.0)).budget for i in range(200)]
    assert svc.controller.rounds == 1 and all(r.workers == 1 for r in replies)  # the floor until the next round
    clock.t += 0.5
    svc.join(JobReport("late", "b", 1.0, 10.0, 0.5, 1.0))
    assert svc.controller.rounds == 2 and svc.members["late"].budget >= 1
