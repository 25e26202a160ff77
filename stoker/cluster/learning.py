"""How the scheduler learns each job's curve from its reports: one code path for the live controller and
the simulator.

Both feed :class:`CurveBook` the same :class:`JobReport` messages: the live controller gets them from
running jobs (:mod:`stoker.cluster.membership`), the simulator makes them from the trace's true profiles
(throughput with measurement noise, data wait = the GPUs' idle fraction). What is learned from a report —
the warm-up skip, the curve point at the job's CPUs, the data-wait estimate of its peak above them — and
how curves are saved and restored is written once, here. So is what a *move* teaches
(:mod:`stoker.cluster.moves`): when a change of a job's worker count did not change its measured throughput
beyond noise, its curve is flat from the lower count for a while, whatever its data wait says.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from stoker.cluster.curve import Curve, OnlineCurve
from stoker.cluster.moves import Flat, MoveRules, MoveTrack, Verdict, neighbours_change


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
        moves: How a change of worker count is judged (:class:`~stoker.cluster.moves.MoveRules`).
    """

    def __init__(self, grid: Sequence[float], saturated_wait: float = 0.05, moves: MoveRules | None = None) -> None:
        if not 0 <= saturated_wait < 1:
            raise ValueError(f"{saturated_wait=} should be in [0, 1)")
        self.grid = tuple(float(x) for x in grid)
        Curve(self.grid, tuple(1.0 for _ in self.grid))  # validates the grid
        self.saturated_wait = saturated_wait
        self.rules = moves or MoveRules()
        self.learners: dict[str, OnlineCurve] = {}
        self.warm: set[str] = set()
        self.seen: dict[str, int] = {}  # reports learned per job (the clock of its flat parts)
        self.tracks: dict[str, MoveTrack] = {}
        self.flats: dict[str, Flat] = {}
        self.gpus: dict[str, float] = {}  # each job's accelerators in its latest report
        self.history: dict[str, deque[float]] = {}  # each job's latest samples/s, one per learned report
        self.node_of: dict[str, str] = {}  # each job's node in its latest report
        self.on_node: dict[str, set[str]] = {}  # node -> jobs whose trainer is there
        self._flat_cache: dict[str, tuple[Curve, float, Curve]] = {}  # (learned, flat from, what policies get)

    def learn(self, r: JobReport) -> None:
        """Learns from one report of job ``r.name`` (a job seen for the first time is added)."""
        learner = self.learners.get(r.name)
        if learner is None:  # not setdefault: that would build a curve per report (1,000 a round)
            learner = self.learners[r.name] = OnlineCurve(self.grid)
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
        self._judge_move(r)

    def _judge_move(self, r: JobReport) -> None:
        """Watches the job's throughput across changes of its worker count (:mod:`stoker.cluster.moves`)."""
        n = self.seen[r.name] = self.seen.get(r.name, 0) + 1
        self.gpus[r.name] = r.gpus
        self._place(r.name, r.node)
        hist = self.history.setdefault(r.name, deque(maxlen=self.rules.window + self.rules.trial_reports + 1))
        hist.append(r.throughput)
        track = self.tracks.get(r.name)
        if track is None:
            self.tracks[r.name] = MoveTrack(r.workers, [r.throughput])
            return
        v = track.add(r.workers, r.throughput, self.rules)
        if v is None or v.mattered is None:
            return
        if v.mattered and v.up:
            # A rise that paid for the job itself, but not for its node: the others there lost more
            # than it gained (their workers and trainers share its cores).
            rules = self.rules
            others = [self.history[k] for k in self.on_node.get(r.node, ()) if k != r.name]
            if v.gain + neighbours_change(others, rules.trial_reports, 1, rules.window) <= 0:
                v = Verdict(v.lower, v.higher, False, v.up, v.gain)
        x = v.lower / r.gpus
        old = self.flats.get(r.name)
        if v.mattered:
            # More workers paid where the curve was flat (it expired and the job was offered more): the
            # flat part and its strikes go; below it, a move that paid leaves it in place.
            # A cut that cost the job itself does not: a rise refuted by what its node lost stays refuted
            # (clearing it there made a job on shared cores climb and fall back every few rounds).
            if v.up and old is not None and v.higher / r.gpus > old.x + 1e-9:
                del self.flats[r.name]
            return
        if old is not None and n < old.until and abs(old.x - x) < 1e-9:
            return  # the move back from a refuted one: the same verdict again, no new strike
        strikes = 0 if old is None else old.strikes + 1
        cooldown = self.rules.cooldown * min(2**strikes, self.rules.max_backoff)
        self.flats[r.name] = Flat(x, n + cooldown, strikes)

    def _place(self, name: str, node: str) -> None:
        old = self.node_of.get(name)
        if old == node:
            return
        if old is not None:
            self.on_node[old].discard(name)
        self.node_of[name] = node
        self.on_node.setdefault(node, set()).add(name)

    def curve(self, name: str) -> Curve:
        """What a policy should believe about job ``name`` now."""
        # Until a job has been measured it stays at its floor (a flat curve asks for nothing more): it
        # explores upward from there, as more CPUs are easy to hand out and a measurement at the floor
        # is what tells whether it is data-bound at all.
        learner = self.learners.get(name)
        if learner is None or not learner.measured:
            return Curve.flat()
        learned = learner.curve()
        cap = self._cap(name)
        if cap is None:
            return learned
        # The same Curve object until either changes (the simulator rebuilds a job's record only then).
        cached = self._flat_cache.get(name)
        if cached is not None and cached[0] is learned and cached[1] == cap:
            return cached[2]
        out = flat_from(learned, cap)
        self._flat_cache[name] = (learned, cap, out)
        return out

    def _cap(self, name: str) -> float | None:
        """CPUs per GPU the job's curve is flat from now: a refuted move's lower count while it holds, and
        the count of a rise still under trial (one step at a time: a job is not offered a third worker
        before the second one showed what it buys)."""
        caps = []
        flat = self.flats.get(name)
        if flat is not None and self.seen.get(name, 0) < flat.until:
            caps.append(flat.x)
        track = self.tracks.get(name)
        if track is not None and track.probing is not None:
            caps.append(track.probing / self.gpus.get(name, 1.0))
        return min(caps) if caps else None

    def forget(self, name: str) -> None:
        """Drops a job that finished or left."""
        self.learners.pop(name, None)
        self.warm.discard(name)
        self.seen.pop(name, None)
        self.tracks.pop(name, None)
        self.flats.pop(name, None)
        self.gpus.pop(name, None)
        self.history.pop(name, None)
        node = self.node_of.pop(name, None)
        if node is not None:
            self.on_node[node].discard(name)
        self._flat_cache.pop(name, None)

    def state_dict(self) -> dict[str, Any]:
        return {
            "warm": sorted(self.warm),
            "learners": {k: v.state_dict() for k, v in self.learners.items()},
            "seen": dict(self.seen),
            "tracks": {k: v.state_dict() for k, v in self.tracks.items()},
            "flats": {k: [f.x, f.until, f.strikes] for k, f in self.flats.items()},
            "gpus": dict(self.gpus),
            "history": {k: list(v) for k, v in self.history.items()},
            "nodes": dict(self.node_of),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.warm = set(state["warm"])
        # States saved before moves were judged have none of these: every job starts unjudged.
        self.seen = {k: int(v) for k, v in state.get("seen", {}).items()}
        self.tracks = {k: MoveTrack.from_state(v) for k, v in state.get("tracks", {}).items()}
        self.flats = {k: Flat(float(x), int(u), int(s)) for k, (x, u, s) in state.get("flats", {}).items()}
        self.gpus = {k: float(v) for k, v in state.get("gpus", {}).items()}
        keep = self.rules.window + self.rules.trial_reports + 1
        self.history = {k: deque(v, maxlen=keep) for k, v in state.get("history", {}).items()}
        self.node_of, self.on_node = {}, {}
        for k, node in state.get("nodes", {}).items():
            self._place(k, node)
        self._flat_cache = {}
        self.learners = {}
        for name, s in state["learners"].items():
            learner = OnlineCurve(s["grid"])
            learner.load_state_dict(s)
            self.learners[name] = learner


def flat_from(curve: Curve, x: float) -> Curve:
    """``curve`` up to ``x`` CPUs per GPU and flat from there (its value at ``x``)."""
    xs = [g for g in curve.xs if g < x - 1e-9]
    ys = [curve(g) for g in xs]
    return Curve.trusted((*xs, x), (*ys, curve(x)))
