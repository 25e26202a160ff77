"""The controller service without Ray: jobs join by reporting, get their floor at once, leave or fall
silent and free their budget; the state is saved every round and a restarted service resumes from it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stoker.cluster.learning import JobReport
from stoker.cluster.records import Node
from stoker.cluster.service import SILENT_ROUNDS, Budget, ControllerService
from tests.common.state import run_test_save_load_state

NODES = (Node("a", 4.0, 0, 0), Node("b", 2.0, 0, 0))


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def hungry(name: str, workers: float, node: str = "a") -> JobReport:
    """A job waiting on data most of the time: it would gain from more CPUs."""
    return JobReport(name, node, 1.0, 10.0 * workers, 0.6, workers)


TOKENS: dict[str, str] = {}  # job name -> token, as each job process would keep it


@pytest.fixture(autouse=True)
def _fresh_tokens() -> None:
    TOKENS.clear()


def send(svc: ControllerService, r: JobReport, tokens: dict[str, str] | None = None) -> Budget:
    """What a job does: joins with its first report, then reports with the token it got."""
    tokens = TOKENS if tokens is None else tokens
    if r.name not in svc.members:
        joined = svc.join(r)
        tokens[r.name] = joined.token
        return joined.budget
    return svc.report(r, tokens[r.name])


def make(clock: Clock, tmp_path: Path | None = None, policy: str = "elastic") -> ControllerService:
    state = tmp_path / "state.json" if tmp_path else None
    return ControllerService(lambda: NODES, policy, period_s=1.0, state_path=state, clock=clock)


def test_a_lone_hungry_job_borrows_the_cluster_and_a_new_job_gets_its_floor_at_once() -> None:
    clock = Clock()
    svc = make(clock)
    budget = 1
    # Each report is learned once (the first, at its join, is its warm-up), a budget reaches the job in
    # the reply to its next report, and a rise is judged (4 reports) before the next: eight periods.
    for _ in range(8):
        budget = send(svc, hungry("old", budget)).workers
        clock.t += 1.0
        svc.round()
    assert budget == 6  # all 6 CPUs: nobody else needs them
    joined = send(svc, hungry("new", 0, node="b"))
    assert joined.workers >= 1  # its floor, in the reply to its first report
    assert svc.members["old"].budget + joined.workers <= 6  # borrowed CPUs go back in the same round
    assert send(svc, hungry("old", budget)).workers <= 5


def test_a_job_silent_for_three_periods_is_dropped_and_its_budget_freed() -> None:
    clock = Clock()
    svc = make(clock)
    send(svc, hungry("quiet", 1))
    for _ in range(8):  # "busy" climbs to every CPU once "quiet" is gone, each rise judged before the next
        send(svc, hungry("busy", svc.members["busy"].budget if "busy" in svc.members else 1))
        clock.t += 1.0
        svc.round()
        if clock.t <= SILENT_ROUNDS:
            assert "quiet" in svc.members
    assert "quiet" not in svc.members and "quiet" not in svc.controller.book.learners
    assert svc.members["busy"].budget == 6


def test_leave_frees_the_budget_at_once() -> None:
    clock = Clock()
    svc = make(clock)
    send(svc, hungry("a", 1))
    send(svc, hungry("b", 1, node="b"))
    svc.leave("b", TOKENS["b"])
    assert list(svc.members) == ["a"] and svc.history[-1] == {"a": svc.members["a"].budget}


def test_status_lists_jobs_and_nodes_with_lent_and_free_cpus() -> None:
    clock = Clock()
    svc = make(clock)
    for _ in range(8):  # the hungry job climbs 1 -> 3 -> 6, each rise judged before the next
        send(svc, hungry("j", svc.members["j"].budget if "j" in svc.members else 1))
        svc.round()
    status = svc.status()
    assert [j.name for j in status.jobs] == ["j"] and status.jobs[0].budget == 6
    nodes = {n.name: n for n in status.nodes}
    assert nodes["b"].lent == 2.0 and nodes["a"].lent == 0.0 and nodes["a"].free == 0.0
    assert json.loads(json.dumps(status.to_json()))["policy"] == "elastic"


def test_the_state_is_saved_every_round_and_a_new_service_resumes_from_it(tmp_path: Path) -> None:
    clock = Clock()
    svc = make(clock, tmp_path)
    for _ in range(8):  # the hungry job climbs 1 -> 3 -> 6, each rise judged before the next
        send(svc, hungry("j", svc.members["j"].budget if "j" in svc.members else 1))
        svc.round()
    svc.flush()  # the state is written after each round, by a background thread
    saved = json.loads((tmp_path / "state.json").read_text())
    assert saved["jobs"]["j"]["budget"] == 6
    again = make(clock, tmp_path)  # a controller restarted after a SIGKILL
    assert again.starts == 2 and again.members["j"].budget == 6
    assert again.controller.book.curve("j") == svc.controller.book.curve("j")
    assert send(again, hungry("j", 6)).workers == 6


def test_service_round_trips_its_state() -> None:
    class Driver:
        def __init__(self) -> None:
            self.clock = Clock()
            self.svc = make(self.clock)
            self.tokens: dict[str, str] = {}  # the jobs' side: each keeps the token it joined with
            self.k = 0

        def advance(self) -> dict[str, int]:
            self.k += 1
            for name in ("x", "y") if self.k % 4 else ("x",):
                member = self.svc.members.get(name)
                send(
                    self.svc,
                    hungry(name, member.budget if member else 1, node="a" if name == "x" else "b"),
                    self.tokens,
                )
            self.clock.t += 1.0
            return self.svc.round()

        def state_dict(self) -> dict:
            return {"svc": self.svc.state_dict(), "k": self.k, "tokens": dict(self.tokens)}

        def load_state_dict(self, s: dict) -> None:
            self.svc.load_state_dict(s["svc"])
            self.k = s["k"]
            self.tokens = dict(s["tokens"])

    run_test_save_load_state(Driver, lambda d: d.advance(), steps=10, checkpoints=[0, 3, 9])


def test_bad_period_and_foreign_state_are_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="period_s"):
        ControllerService(lambda: NODES, period_s=0)
    (tmp_path / "state.json").write_text("{}")
    with pytest.raises(ValueError, match="not a stoker controller state"):
        make(Clock(), tmp_path)


def test_a_report_is_learned_once_however_many_rounds_see_it() -> None:
    clock = Clock()
    svc = make(clock)
    for _ in range(3):
        send(svc, hungry("j", 1))
        svc.round()
    learned = svc.controller.book.seen["j"]
    audit = svc.audited_round()  # no report since the last round
    assert audit.learned == frozenset() and svc.controller.book.seen["j"] == learned
    send(svc, hungry("j", 1))
    assert svc.audited_round().learned == {"j"} and svc.controller.book.seen["j"] == learned + 1
