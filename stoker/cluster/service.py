"""The controller as a service that live jobs join: rounds, membership, status and saved state.

:class:`ControllerService` is plain Python (unit-tested with a fake clock); :mod:`stoker.cluster.daemon`
runs it as a detached, named Ray actor. Jobs push: each sends a :class:`~stoker.cluster.learning.JobReport`
once per round and gets its :class:`Budget` in the reply, so the controller never calls into a job and a
job never waits on the controller (:mod:`stoker.cluster.membership`). Every round the service drops jobs
silent for ``SILENT_ROUNDS`` periods (their CPUs go back to the others), runs the policy over the latest
reports with :class:`~stoker.cluster.controller.Controller` (the simulator's own learning code) and saves its
state; a new job's first report triggers a round at once, so it gets its policy floor without waiting
(a burst of joins makes one round).

Jobs authenticate (:mod:`stoker.cluster.admission`): :meth:`ControllerService.join` returns a token, and
only that token can report for, or end, its job; when the operator set a secret, joining needs it, and
the secret alone can evict a job. Every report is checked (finite, in range, the job's own) before it is
stored, a refused one is logged and changes nothing, and a round that fails is logged and the next one
runs: nothing one job sends stops the rounds.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NoReturn

from stoker.cluster.admission import Refused, check_report, digest, matches, new_token
from stoker.cluster.controller import Controller
from stoker.cluster.learning import JobReport
from stoker.cluster.policies import CpuParams
from stoker.cluster.records import Node
from stoker.cluster.state_writer import StateWriter

log = logging.getLogger("stoker")

SILENT_ROUNDS = 3  # a job that has not reported for this many periods has left
STATE_VERSION = 2  # 2: members keep their token's digest
KEPT_REFUSALS = 100  # refusals kept for status and tests (all are logged)
JOIN_GAP = 0.25  # a join re-runs the round at once unless a join did within this fraction of a period
ROUND_TIMES = 10_000  # round durations kept for ``stoker bench cluster_scale``


@dataclass(frozen=True)
class Budget:
    """The controller's reply to a report.

    Attributes:
        workers: Data workers (CPUs) the job may run until the next reply; its own autoscaler decides
            how many of them it uses (``Loader.set_budget``).
        period_s: Seconds between two reports the controller expects.
        round: The controller's round counter when it answered.
    """

    workers: int
    period_s: float
    round: int


@dataclass(frozen=True)
class JobStatus:
    """One job as ``stoker cluster status`` shows it.

    Attributes:
        name: Job name.
        node: Node its trainer runs on.
        gpus: Accelerators it holds.
        budget: Data workers it may run.
        workers: Data workers it ran with in its last report.
        throughput: Samples/s in its last report.
        data_wait: Fraction of its last round its trainer waited on data.
        silent_s: Seconds since its last report.
    """

    name: str
    node: str
    gpus: float
    budget: int
    workers: float
    throughput: float
    data_wait: float
    silent_s: float


@dataclass(frozen=True)
class NodeStatus:
    """One node: its CPUs, those budgeted to jobs whose trainer sits elsewhere (lent), and those free.

    Attributes:
        name: Node name (the Ray node id).
        cpus: CPUs on the node.
        lent: CPUs the policy lent from this node to jobs on other nodes.
        free: CPUs no job's budget holds.
    """

    name: str
    cpus: float
    lent: float
    free: float


@dataclass(frozen=True)
class ClusterStatus:
    """What ``stoker cluster status`` prints."""

    policy: str
    period_s: float
    rounds: int
    starts: int
    jobs: tuple[JobStatus, ...]
    nodes: tuple[NodeStatus, ...]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Joined:
    """The controller's reply to :meth:`ControllerService.join`.

    Attributes:
        token: The job's token: every later report and its leave must carry it.
        budget: The job's first budget.
    """

    token: str
    budget: Budget


@dataclass(frozen=True)
class RoundAudit:
    """A round's inputs and outcome: the controller's state before it, the reports, nodes and budgets.

    ``Controller(nodes, policy, params)`` loaded with ``controller_state`` and asked to ``decide(reports,
    nodes, learned)`` must return ``budgets`` (``stoker bench cluster_scale`` checks that at 1,000 jobs).
    ``learned``: the jobs whose report was new in that round (None: all).
    """

    controller_state: dict[str, Any]
    reports: tuple[JobReport, ...]
    nodes: tuple[Node, ...]
    budgets: dict[str, int]
    learned: frozenset[str] | None = None


@dataclass
class _Member:
    report: JobReport
    budget: int
    seen: float  # clock time of its last report
    token_sha256: str | None  # None only for a job restored from a version-1 state: it must join again
    fresh: bool = True  # its report came in since the last round (a round learns each report once)


class ControllerService:
    """Rounds over the jobs that report, with a registered CPU policy.

    Args:
        nodes: Returns the cluster's nodes now (Ray's view for the live service); called every round.
        policy: CPU policy name.
        period_s: Seconds per round.
        state_path: Where to save the state every round (JSON; written by a background thread, atomically,
            so the file always holds a whole state, at most a round old); loaded at construction if it exists.
        params: Policy knobs.
        clock: Seconds, monotonic (a test passes a fake one).
        secret_sha256: SHA-256 digest of the operator's secret (:func:`~stoker.cluster.admission.digest`;
            the secret itself never reaches the service): joining needs the secret and it alone can
            evict. None: any caller may join (and gets a token of its own) and nobody can evict.
    """

    def __init__(
        self,
        nodes: Callable[[], Sequence[Node]],
        policy: str = "elastic",
        period_s: float = 2.0,
        state_path: str | Path | None = None,
        params: CpuParams | None = None,
        clock: Callable[[], float] = time.monotonic,
        secret_sha256: str | None = None,
    ) -> None:
        if not period_s > 0:
            raise ValueError(f"{period_s=} should be > 0 seconds")
        self._nodes = nodes
        self.controller = Controller(nodes(), policy, params, grid=(1, 2, 3, 4, 6, 8))
        self.policy_name = policy
        self.period_s = float(period_s)
        self.state_path = Path(state_path) if state_path else None
        self._writer = StateWriter(self.state_path) if self.state_path is not None else None
        self.clock = clock
        self.members: dict[str, _Member] = {}
        self.alloc: dict[str, dict[str, float]] = {}
        self.starts = 1
        self.history: list[dict[str, int]] = []
        self.refusals: list[str] = []  # the last KEPT_REFUSALS refusals, newest last
        self.evicted: set[str] = set()  # names the operator evicted: they cannot join again
        self.failed_rounds = 0
        self._secret_sha256 = secret_sha256
        self.round_s: deque[float] = deque(maxlen=ROUND_TIMES)  # wall seconds of the latest rounds
        self._lock = threading.RLock()
        self._join_round = -float("inf")  # clock time of the last round a join triggered
        if self.state_path is not None and self.state_path.exists():
            self.load_state_dict(json.loads(self.state_path.read_text()))
            self.starts += 1

    # -- messages from jobs --------------------------------------------------------------------
    def join(self, r: JobReport, secret: str | None = None) -> Joined:
        """A new job's first report: it joins, gets a round at once and a token for what follows.

        Raises:
            Refused: The operator's secret is set and ``secret`` is not it, the report is malformed, or
                a member of that name holds a token (a job's name cannot be taken over).
        """
        with self._lock:
            if self._secret_sha256 is not None and not matches(secret, self._secret_sha256):
                self._refuse(Refused(f"job {str(getattr(r, 'name', '?'))[:200]!r}: wrong or missing cluster secret"))
            self._check(r)
            if r.name in self.evicted:
                self._refuse(
                    Refused(f"job {r.name!r} was evicted by the operator; it cannot join again under that name")
                )
            held = self.members.get(r.name)
            if held is not None and held.token_sha256 is not None:
                self._refuse(Refused(f"job {r.name!r} is a member already; another job cannot take its name"))
            token = new_token()
            now = self.clock()
            self.members[r.name] = _Member(r, 1, now, digest(token))
            # A burst of joins (a cluster's jobs starting together) makes one round, not one per job:
            # each round is O(jobs), so 1,000 joins took minutes and starved the other jobs' reports
            # past SILENT_ROUNDS. A job joining right after a join round gets the floor of 1 worker
            # and its policy budget at the next round (at most a period later).
            if now - self._join_round >= JOIN_GAP * self.period_s:
                self._join_round = now
                self._safe_round()
            return Joined(token, Budget(self.members[r.name].budget, self.period_s, self.controller.rounds))

    def report(self, r: JobReport, token: str) -> Budget:
        """A member's report for this round; the reply is its current budget.

        Raises:
            Refused: ``token`` is not the one its job got at :meth:`join` (``rejoin`` is set when the
                job is not a member, e.g. dropped as silent), or the report is malformed.
        """
        with self._lock:
            r = self._check(r)
            member = self._member(r.name, token)
            member.report, member.seen, member.fresh = r, self.clock(), True
            return Budget(member.budget, self.period_s, self.controller.rounds)

    def leave(self, name: str, token: str) -> None:
        """A job that finished: its budget is freed at once.

        Raises:
            Refused: ``token`` is not that job's.
        """
        with self._lock:
            self._member(name, token)
            self._drop(name)

    def evict(self, name: str, secret: str) -> bool:
        """The operator removes job ``name``; False if it was not a member.

        Raises:
            Refused: No operator secret was set, or ``secret`` is not it.
        """
        with self._lock:
            if not matches(secret, self._secret_sha256):
                why = "no operator secret was set at start" if self._secret_sha256 is None else "wrong secret"
                self._refuse(Refused(f"evicting {str(name)[:200]!r} refused: {why}"))
            if name not in self.members:
                return False
            log.warning("stoker: controller evicted job %r (operator)", name)
            self.evicted.add(name)
            self._drop(name)
            return True

    def _drop(self, name: str) -> None:
        del self.members[name]
        self.controller.forget(name)
        self._safe_round()

    def _check(self, r: JobReport) -> JobReport:
        try:
            return check_report(r, self.controller.nodes)
        except Refused as exc:
            self._refuse(exc)

    def _member(self, name: object, token: object) -> _Member:
        member = self.members.get(name) if isinstance(name, str) else None
        if member is None:
            self._refuse(Refused(f"job {str(name)[:200]!r} is not a member (dropped or never joined); join", True))
        if not matches(token, member.token_sha256):
            self._refuse(Refused(f"job {name!r}: the token is not this job's", member.token_sha256 is None))
        return member

    def _refuse(self, exc: Refused) -> NoReturn:
        """Logs and keeps a refusal, then raises it to the caller; nothing of the message was stored."""
        # Once at WARNING while it is among the kept ones: a job retrying every round must not flood the log.
        level = logging.DEBUG if str(exc) in self.refusals else logging.WARNING
        log.log(level, "stoker: controller refused: %s", exc)
        self.refusals.append(str(exc))
        del self.refusals[:-KEPT_REFUSALS]
        raise exc

    # -- rounds --------------------------------------------------------------------------------
    def round(self) -> dict[str, int]:
        """Drops silent jobs, re-runs the policy over the latest reports, saves the state."""
        return self._round(None)

    def audited_round(self) -> RoundAudit:
        """One round with what went into it, for checking it against the policy run offline."""
        seen: list[Any] = []
        budgets = self._round(seen)
        before, reports, nodes, learned = seen
        return RoundAudit(before, reports, nodes, budgets, learned)

    def _round(self, audit: list[Any] | None) -> dict[str, int]:
        with self._lock:
            t0 = time.perf_counter()
            now = self.clock()
            for name in [n for n, m in self.members.items() if now - m.seen > SILENT_ROUNDS * self.period_s]:
                del self.members[name]
                self.controller.forget(name)
            reports = [m.report for m in self.members.values()]
            learned = frozenset(n for n, m in self.members.items() if m.fresh)
            nodes = tuple(self._nodes())
            if audit is not None:  # the state before the round updates it in place
                audit.extend([copy.deepcopy(self.controller.state_dict()), tuple(reports), nodes, learned])
            budgets = self.controller.decide(reports, nodes, learned) if reports else {}
            for m in self.members.values():
                m.fresh = False
            self.alloc = self.controller.last_alloc
            for name, b in budgets.items():
                self.members[name].budget = b
            self.history.append(dict(budgets))
            del self.history[:-100]
            if self._writer is not None:  # the JSON is written after the round, off its critical path
                self._writer.submit(self.state_dict())
            if audit is None:  # an audited round also copies the state: not a round's own time
                self.round_s.append(time.perf_counter() - t0)
            return budgets

    def _safe_round(self) -> None:
        """A round whose failure is logged, never raised: budgets stay as they were until the next one."""
        try:
            self.round()
        except Exception:
            self.failed_rounds += 1
            log.exception("stoker: controller round %d failed; budgets unchanged, next round in %g s",
                          self.controller.rounds, self.period_s)  # fmt: skip

    def run(self, stop: threading.Event) -> None:
        """Runs a round every ``period_s`` until ``stop`` is set (the actor's thread); a round that fails
        is logged and the next one runs."""
        while not stop.wait(self.period_s):
            self._safe_round()

    # -- status and state ----------------------------------------------------------------------
    def status(self) -> ClusterStatus:
        with self._lock:
            now = self.clock()
            jobs = tuple(self._job_status(n, m, now) for n, m in sorted(self.members.items()))
            homes = {n: m.report.node for n, m in self.members.items()}
            nodes = []
            for node in self.controller.nodes:
                used = sum(a.get(node.name, 0.0) for a in self.alloc.values())
                lent = sum(a.get(node.name, 0.0) for j, a in self.alloc.items() if homes.get(j) != node.name)
                nodes.append(NodeStatus(node.name, node.cpus, round(lent, 3), round(max(0.0, node.cpus - used), 3)))
            return ClusterStatus(
                self.policy_name, self.period_s, self.controller.rounds, self.starts, jobs, tuple(nodes)
            )

    @staticmethod
    def _job_status(name: str, m: _Member, now: float) -> JobStatus:
        r = m.report
        return JobStatus(name, r.node, r.gpus, m.budget, r.workers, r.throughput, r.data_wait, round(now - m.seen, 3))

    def save(self) -> None:
        """Writes the state to ``state_path`` now, atomically (a killed controller leaves a whole file)."""
        if self._writer is not None:
            self._writer.write(self.state_dict())

    def flush(self) -> None:
        """Waits until the states of past rounds are on disk."""
        if self._writer is not None:
            self._writer.flush()

    def state_dict(self) -> dict[str, Any]:
        # vars() of a report rather than dataclasses.asdict: asdict recurses and deep-copies, which at
        # 1,000 jobs cost more than the policy in every round.
        with self._lock:
            return {
                "version": STATE_VERSION,
                "policy": self.policy_name,
                "starts": self.starts,
                "evicted": sorted(self.evicted),
                "controller": self.controller.state_dict(),
                "jobs": {
                    n: {"report": dict(vars(m.report)), "budget": m.budget, "token_sha256": m.token_sha256}
                    for n, m in self.members.items()
                },
            }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        # Version 1 had no tokens: its jobs are restored without one and must join again.
        if state.get("version") not in (1, STATE_VERSION):
            raise ValueError(f"not a stoker controller state (version {state.get('version')!r}); remove it")
        with self._lock:
            self.controller.load_state_dict(state["controller"])
            self.starts = int(state["starts"])
            self.evicted = set(state.get("evicted", ()))
            # Restored jobs count as just seen: they get SILENT_ROUNDS periods to report to the new process.
            now = self.clock()
            self.members = {}
            for n, s in state["jobs"].items():
                try:
                    # A state file is written by the controller, but it is a file: check it as a report.
                    report = check_report(JobReport(**s["report"]), self.controller.nodes)
                except (Refused, TypeError) as exc:
                    log.warning("stoker: controller state: job %r left out (%s); it joins again", n, exc)
                    continue
                # Its report was learned before the state was saved: not again.
                self.members[n] = _Member(report, int(s["budget"]), now, s.get("token_sha256"), fresh=False)
