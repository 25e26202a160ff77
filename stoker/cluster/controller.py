"""The live controller: every round, the same CPU policy the simulator runs, against real jobs.

:meth:`Controller.decide` turns the jobs' latest reports (:class:`~stoker.cluster.learning.JobReport`:
samples/s, fraction of time waiting on data, the data workers it ran with) into data-worker budgets. It
learns curves with :class:`~stoker.cluster.learning.CurveBook`, the simulator's own learning code. The
live service (:mod:`stoker.cluster.service`, a detached Ray actor via :mod:`stoker.cluster.daemon`) calls
it every round with the reports jobs pushed; :meth:`Controller.step` drives in-process handles
(:class:`JobHandle`: ``report()`` and ``set_budget(n)``, e.g. :class:`~stoker.cluster.loader_handle.LoaderHandle`).
A job that loses CPUs drains workers; stateless data workers lose no sample.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from stoker.cluster.learning import CurveBook, JobReport
from stoker.cluster.policies import CpuParams, cpu_policy
from stoker.cluster.records import Allocation, ClusterView, Job, Node

HOLD_ROUNDS = 5  # rounds a budget may not move back after a move (see Controller)


@dataclass(frozen=True)
class BudgetMove:
    """A job's budget and its last change.

    Attributes:
        budget: Data workers it was given last round.
        round: The controller's round counter when the budget last changed.
        direction: +1 if that change was up, -1 if down, 0 for the job's first budget.
    """

    budget: int
    round: int
    direction: int


class JobHandle(Protocol):
    """How the controller reaches a job."""

    def report(self) -> JobReport: ...

    def set_budget(self, workers: int) -> None: ...


class Controller:
    """Turns reports into data-worker budgets with a registered CPU policy, learning curves online.

    Args:
        nodes: The cluster's nodes (CPUs are what budgets are made of: one data worker = one CPU).
        policy: CPU policy name (``static``, ``proportional``, ``synergy``, ``elastic``).
        params: Policy knobs.
        grid: Workers per GPU at which curves are learned.
        saturated_wait: A trainer waiting on data less than this fraction of the time is fed: more
            workers would not make it faster, so the learned curve is flat above its budget. Above it,
            a report's data wait ``w`` puts the job's peak at ``throughput / (1 - w)``.
        requested: Job name -> workers it asked for (what ``static`` gives); default 1 per GPU.
        hold_rounds: After a job's budget moved one way, it does not move back within this many rounds
            (0: off). Live reports are noisy and a refreshed optimistic curve point re-tempts the policy
            every other round; without the hold, budgets flapped about once a round under load (each
            rise a data-worker start). A move that frees CPUs another job needs is still made: the
            trim to the cluster's CPUs comes after the hold.
    """

    def __init__(
        self,
        nodes: Sequence[Node],
        policy: str = "elastic",
        params: CpuParams | None = None,
        grid: Sequence[float] = (1, 2, 3, 4, 6, 8),
        saturated_wait: float = 0.05,
        requested: Mapping[str, int] | None = None,
        hold_rounds: int = HOLD_ROUNDS,
    ) -> None:
        if isinstance(hold_rounds, bool) or not isinstance(hold_rounds, int) or hold_rounds < 0:
            raise ValueError(f"{hold_rounds=} should be an int >= 0 (0 turns the hold off)")
        self.nodes = tuple(nodes)
        self.policy = cpu_policy(policy)
        self.params = params or CpuParams()
        self.book = CurveBook(grid, saturated_wait)
        self.requested = dict(requested or {})
        self.rounds = 0
        self.last_alloc: Allocation = {}  # the policy's last allocation, job -> node -> CPUs
        self.hold_rounds = hold_rounds
        self.moves: dict[str, BudgetMove] = {}  # each job's budget and its last change
        self._jobs: dict[str, Job] = {}  # the policy's records, kept while a job's curve is unchanged

    def decide(
        self,
        reports: Sequence[JobReport],
        nodes: Sequence[Node] | None = None,
        learn: Collection[str] | None = None,
    ) -> dict[str, int]:
        """Learns from ``reports`` and returns each job's data-worker budget for the next round.

        Args:
            reports: The latest report of every job that takes part in this round.
            nodes: The cluster as it is now (a live cluster gains and loses nodes); default: as built.
            learn: Names of the jobs whose report is new since the last round (default: all). A job that
                has not reported since keeps its budget from the same report, but the report is learned
                once: counted twice it would weigh double in the curve and look noiseless to the judging
                of moves (:mod:`stoker.cluster.moves`).
        """
        if nodes is not None:
            self.nodes = tuple(nodes)
        for r in reports:
            if learn is None or r.name in learn:
                self.book.learn(r)
        jobs = tuple(self._job(r) for r in reports)
        known = {n.name for n in self.nodes}
        # A job whose node is not in the view (it left the cluster, or reports a name the controller
        # cannot see) is steered as if it sat on the node with the most CPUs: it still gets a budget.
        home = max(self.nodes, key=lambda n: n.cpus).name if self.nodes else ""
        placement = {r.name: r.node if r.node in known else home for r in reports}
        view = ClusterView(self.nodes, jobs, placement)
        alloc = self.policy.allocate(view, self.params)
        self.last_alloc = alloc
        self.rounds += 1
        # Whole workers only, rounded down so the CPUs handed out never exceed the policy's allocation.
        budgets = {r.name: max(1, math.floor(sum(alloc.get(r.name, {}).values()) + 1e-9)) for r in reports}
        budgets = _within(self._hold(budgets), sum(n.cpus for n in self.nodes))
        self._remember(budgets)
        return budgets

    def _job(self, r: JobReport) -> Job:
        """The policy's record of a job, rebuilt only when its curve or size changed (1,000 jobs a round)."""
        curve = self.book.curve(r.name)
        cpus = float(self.requested.get(r.name, max(1, math.ceil(r.gpus))))
        job = self._jobs.get(r.name)
        if job is None or job.curve is not curve or job.gpus != r.gpus or job.cpus != cpus:
            job = self._jobs[r.name] = Job(name=r.name, gpus=r.gpus, cpus=cpus, curve=curve)
        return job

    def _hold(self, budgets: dict[str, int]) -> dict[str, int]:
        """Keeps a budget that would move back the way it moved within ``hold_rounds`` rounds."""
        out = dict(budgets)
        for name, b in budgets.items():
            m = self.moves.get(name)
            if m is None or b == m.budget or self.rounds - m.round > self.hold_rounds:
                continue
            if (b > m.budget) != (m.direction > 0):
                out[name] = m.budget
        return out

    def _remember(self, budgets: dict[str, int]) -> None:
        self.moves = {n: m for n, m in self.moves.items() if n in budgets}
        for name, b in budgets.items():
            m = self.moves.get(name)
            if m is None:
                self.moves[name] = BudgetMove(b, -(10**9), 0)  # a job's first budget is no move
            elif b != m.budget:
                self.moves[name] = BudgetMove(b, self.rounds, 1 if b > m.budget else -1)

    def forget(self, name: str) -> None:
        """Drops a job that left (its learned curve goes with it)."""
        self.book.forget(name)
        self.moves.pop(name, None)
        self._jobs.pop(name, None)

    def step(self, handles: Sequence[JobHandle]) -> dict[str, int]:
        """One round against local handles: report, decide, set budgets."""
        reports = [h.report() for h in handles]
        budgets = self.decide(reports)
        for h, r in zip(handles, reports):
            h.set_budget(budgets[r.name])
        return budgets

    def state_dict(self) -> dict[str, Any]:
        moves = {n: [m.budget, m.round, m.direction] for n, m in self.moves.items()}
        return {"rounds": self.rounds, "book": self.book.state_dict(), "moves": moves}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rounds = state["rounds"]
        self.book.load_state_dict(state["book"])
        self._jobs = {}
        # States saved before the hold existed have no moves: every job starts unheld.
        self.moves = {n: BudgetMove(int(b), int(r), int(d)) for n, (b, r, d) in state.get("moves", {}).items()}


def _within(budgets: dict[str, int], cpus: float) -> dict[str, int]:
    """Trims the largest budgets (never below 1 worker) until they fit in ``cpus``.

    Live jobs are not placed by the controller: several trainers may sit on one node whose CPUs cannot
    hold all their floors, and every job gets at least one worker. What they borrowed beyond that goes.
    """
    out = dict(budgets)
    while sum(out.values()) > cpus + 1e-9:
        name = max(out, key=lambda k: (out[k], k))
        if out[name] <= 1:
            break
        out[name] -= 1
    return out
