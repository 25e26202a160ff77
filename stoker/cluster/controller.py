"""The live controller: every round, the same CPU policy the simulator runs, against real jobs.

Each job is reached through a tiny handle (:class:`JobHandle`): ``report()`` gives what its trainer
measured over the last round (samples/s, fraction of time waiting on data, the data workers it ran with)
and ``set_budget(n)`` sets how many data workers it may run next round. The controller does not know what
is behind a handle: a :class:`stoker.Loader` on the Ray backend (``loader.scale(n)``, ``loader.stats()``)
or a test job. A job that loses CPUs scales its workers down; stateless data workers lose no sample.

:class:`Controller` is plain Python (unit-tested without Ray); :func:`start_controller` runs it as a Ray
actor that calls the handles' ``report``/``set_budget`` as actor methods.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from stoker.cluster.curve import Curve, OnlineCurve
from stoker.cluster.policies import CpuParams, cpu_policy
from stoker.cluster.records import ClusterView, Job, Node


@dataclass(frozen=True)
class JobReport:
    """What one job's trainer measured over the last round.

    Attributes:
        name: Job name.
        node: Node its trainer (and accelerators) run on.
        gpus: Accelerators it holds.
        throughput: Samples (or steps) per second the trainer consumed.
        data_wait: Fraction of the round the trainer waited for data, 0..1.
        workers: Data workers it ran with (its budget last round).
    """

    name: str
    node: str
    gpus: float
    throughput: float
    data_wait: float
    workers: int


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
    """

    def __init__(
        self,
        nodes: Sequence[Node],
        policy: str = "elastic",
        params: CpuParams | None = None,
        grid: Sequence[float] = (1, 2, 3, 4, 6, 8),
        saturated_wait: float = 0.05,
        requested: Mapping[str, int] | None = None,
    ) -> None:
        if not 0 <= saturated_wait < 1:
            raise ValueError(f"{saturated_wait=} should be in [0, 1)")
        self.nodes = tuple(nodes)
        self.policy = cpu_policy(policy)
        self.params = params or CpuParams()
        self.grid = tuple(float(x) for x in grid)
        self.saturated_wait = saturated_wait
        self.requested = dict(requested or {})
        self.learners: dict[str, OnlineCurve] = {}
        self.warm: set[str] = set()
        self.rounds = 0

    def decide(self, reports: Sequence[JobReport]) -> dict[str, int]:
        """Learns from ``reports`` and returns each job's data-worker budget for the next round."""
        for r in reports:
            learner = self.learners.setdefault(r.name, OnlineCurve(self.grid))
            # A job that consumed nothing yet tells nothing about its curve, and its first window with
            # progress still holds its start-up (workers launching): learn from the windows after that.
            if r.workers <= 0 or r.gpus <= 0 or r.throughput <= 0:
                continue
            if r.name not in self.warm:
                self.warm.add(r.name)
                continue
            x = r.workers / r.gpus
            learner.observe(x, r.throughput)
            # Data wait says how far the job is from accelerator-bound: without waiting it would run at
            # about throughput / (1 - wait). Above its budget, throughput grows with workers up to that
            # peak. Refreshing those points from every report keeps one bad window from sticking.
            fed = r.data_wait < self.saturated_wait
            peak = r.throughput if fed else r.throughput / max(1.0 - r.data_wait, 1e-3)
            for g in self.grid:
                if g > x:
                    learner.observe(g, min(peak, r.throughput * g / x))
        jobs = tuple(
            Job(
                name=r.name,
                gpus=r.gpus,
                cpus=float(self.requested.get(r.name, max(1, math.ceil(r.gpus)))),
                curve=self._curve(r.name),
            )
            for r in reports
        )
        view = ClusterView(self.nodes, jobs, {r.name: r.node for r in reports})
        alloc = self.policy.allocate(view, self.params)
        self.rounds += 1
        # Whole workers only, rounded down so the CPUs handed out never exceed the policy's allocation.
        return {r.name: max(1, math.floor(sum(alloc.get(r.name, {}).values()) + 1e-9)) for r in reports}

    def _curve(self, name: str) -> Curve:
        # Until a job has been measured it stays at its floor (a flat curve asks for nothing more): it
        # explores upward from there, as more CPUs are easy to hand out and a measurement at the floor
        # is what tells whether it is data-bound at all.
        learner = self.learners[name]
        return learner.curve() if learner.measured else Curve.flat()

    def step(self, handles: Sequence[JobHandle]) -> dict[str, int]:
        """One round against local handles: report, decide, set budgets."""
        reports = [h.report() for h in handles]
        budgets = self.decide(reports)
        for h, r in zip(handles, reports):
            h.set_budget(budgets[r.name])
        return budgets

    def state_dict(self) -> dict[str, Any]:
        return {
            "rounds": self.rounds,
            "warm": sorted(self.warm),
            "learners": {k: v.state_dict() for k, v in self.learners.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rounds = state["rounds"]
        self.warm = set(state["warm"])
        self.learners = {}
        for name, s in state["learners"].items():
            self.learners[name] = OnlineCurve(s["grid"])
            self.learners[name].load_state_dict(s)


class _ControllerActor:
    """Body of the Ray actor: holds Ray actor handles of the jobs and runs rounds."""

    def __init__(self, controller: Controller, handles: Sequence[Any]) -> None:
        self.controller = controller
        self.handles = list(handles)
        self.history: list[dict[str, int]] = []

    def step(self) -> dict[str, int]:
        import ray

        reports = ray.get([h.report.remote() for h in self.handles])
        budgets = self.controller.decide(reports)
        ray.get([h.set_budget.remote(budgets[r.name]) for h, r in zip(self.handles, reports)])
        self.history.append(budgets)
        return budgets

    def run(self, rounds: int, period_s: float) -> list[dict[str, int]]:
        """Runs ``rounds`` rounds, one every ``period_s`` seconds; returns the budgets of each."""
        for _ in range(rounds):
            time.sleep(period_s)
            self.step()
        return self.history

    def state_dict(self) -> dict[str, Any]:
        return self.controller.state_dict()


def start_controller(controller: Controller, handles: Sequence[Any]) -> Any:
    """Starts the controller as a Ray actor (needs ``ray.init`` done) over the jobs' actor handles.

    The handles are Ray actors with ``report()`` and ``set_budget(n)`` methods.
    """
    import ray

    return ray.remote(num_cpus=0)(_ControllerActor).remote(controller, handles)
