"""How the scheduler learns each job's curve from its reports: one code path for the live controller and
the simulator.

Both feed :class:`CurveBook` the same :class:`JobReport` messages: the live controller gets them from
running jobs (:mod:`stoker.cluster.membership`), the simulator makes them from the trace's true profiles
(throughput with measurement noise, data wait = the GPUs' idle fraction). What is learned from a report —
the warm-up skip, the curve point at the job's CPUs, the data-wait estimate of its peak above them — and
how curves are saved and restored is written once, here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from stoker.cluster.curve import Curve, OnlineCurve


@dataclass(frozen=True)
class JobReport:
    """What one job's trainer measured over the last round (the message a job sends the controller).

    Attributes:
        name: Job name.
        node: Node its trainer (and accelerators) run on.
        gpus: Accelerators it holds.
        throughput: Samples (or steps) per second the trainer consumed.
        data_wait: Fraction of the round the trainer waited for data, 0..1.
        workers: Data workers (CPUs) it ran with; fractional in the simulator, whole in a live job.
    """

    name: str
    node: str
    gpus: float
    throughput: float
    data_wait: float
    workers: float


class CurveBook:
    """Every job's learned curve, updated from reports.

    Args:
        grid: CPUs per GPU at which curves are learned.
        saturated_wait: A trainer waiting on data less than this fraction of the time is fed: more
            workers would not make it faster, so the learned curve is flat above its CPUs. Above it, a
            report's data wait ``w`` puts the job's peak at ``throughput / (1 - w)``.
    """

    def __init__(self, grid: Sequence[float], saturated_wait: float = 0.05) -> None:
        if not 0 <= saturated_wait < 1:
            raise ValueError(f"{saturated_wait=} should be in [0, 1)")
        self.grid = tuple(float(x) for x in grid)
        Curve(self.grid, tuple(1.0 for _ in self.grid))  # validates the grid
        self.saturated_wait = saturated_wait
        self.learners: dict[str, OnlineCurve] = {}
        self.warm: set[str] = set()

    def learn(self, r: JobReport) -> None:
        """Learns from one report of job ``r.name`` (a job seen for the first time is added)."""
        learner = self.learners.setdefault(r.name, OnlineCurve(self.grid))
        # A job that consumed nothing yet tells nothing about its curve, and its first window with
        # progress still holds its start-up (workers launching): learn from the windows after that.
        if r.workers <= 0 or r.gpus <= 0 or r.throughput <= 0:
            return
        if r.name not in self.warm:
            self.warm.add(r.name)
            return
        x = r.workers / r.gpus
        learner.observe(x, r.throughput)
        # Data wait says how far the job is from accelerator-bound: without waiting it would run at
        # about throughput / (1 - wait). Above its CPUs, throughput grows with workers up to that
        # peak. Refreshing those points from every report keeps one bad window from sticking.
        fed = r.data_wait < self.saturated_wait
        peak = r.throughput if fed else r.throughput / max(1.0 - r.data_wait, 1e-3)
        for g in self.grid:
            if g > x:
                learner.observe(g, min(peak, r.throughput * g / x))

    def curve(self, name: str) -> Curve:
        """What a policy should believe about job ``name`` now."""
        # Until a job has been measured it stays at its floor (a flat curve asks for nothing more): it
        # explores upward from there, as more CPUs are easy to hand out and a measurement at the floor
        # is what tells whether it is data-bound at all.
        learner = self.learners.get(name)
        return learner.curve() if learner is not None and learner.measured else Curve.flat()

    def forget(self, name: str) -> None:
        """Drops a job that finished or left."""
        self.learners.pop(name, None)
        self.warm.discard(name)

    def state_dict(self) -> dict[str, Any]:
        return {
            "warm": sorted(self.warm),
            "learners": {k: v.state_dict() for k, v in self.learners.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.warm = set(state["warm"])
        self.learners = {}
        for name, s in state["learners"].items():
            learner = OnlineCurve(s["grid"])
            learner.load_state_dict(s)
            self.learners[name] = learner
