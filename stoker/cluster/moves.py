"""What a budget move did: did the job's measured throughput change with its data workers?

A job's data wait says how far it is from accelerator-bound, not whether another worker would help: a
trainer that shares its cores with its own decoders (the live bench's CNN on 2 real cores), a job bound by
slow storage, or a node whose logical CPUs are oversubscribed all wait on data and still gain nothing from
one more worker, or lose from it. :class:`MoveTrack` watches a job's reports across a change of its worker
count and judges the move from the throughput measured on both sides, with the noise of those measurements;
:class:`~stoker.cluster.learning.CurveBook` (the live controller's and the simulator's learning) turns a
move that did not matter into a learned curve that is flat from the lower count.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class MoveRules:
    """How moves are judged.

    Attributes:
        trial_reports: Reports at the new count a verdict waits for, after the first one there, which is
            left out (it holds the move itself: a worker starting or draining). 1 + 3 reports fit in the
            controller's hold (``HOLD_ROUNDS`` = 5): the verdict comes before the budget may move back.
        window: Reports kept at the current count, the baseline a move is compared with.
        same: Worker counts closer than this are the same count (live counts are whole; the simulator's
            are fractional CPUs and many small moves tell nothing).
        z: Standard errors a change must exceed to count (noise-aware).
        min_share: A move matters only if it changed throughput by at least this fraction of what
            perfect CPU scaling would give (0.1: one worker more on one must add 10 %).
        cooldown: Reports a learned flat curve holds before the job is offered more again (120: 2 to 4
            minutes at a live period of 1-2 s; each offer costs a worker's start and a hold at the higher
            count); it doubles with each flat verdict in a row, up to ``max_backoff`` times.
        max_backoff: Cap on that doubling.
    """

    trial_reports: int = 3
    window: int = 5
    same: float = 0.5
    z: float = 2.0
    min_share: float = 0.1
    cooldown: int = 120
    max_backoff: int = 8

    def __post_init__(self) -> None:
        if self.trial_reports < 2 or self.window < 2:
            raise ValueError(f"trial_reports={self.trial_reports} and window={self.window} should be >= 2")
        if not (self.same > 0 and self.z >= 0 and 0 <= self.min_share <= 1):
            raise ValueError(f"same={self.same} > 0, z={self.z} >= 0, 0 <= min_share={self.min_share} <= 1 needed")
        if self.cooldown < 1 or self.max_backoff < 1:
            raise ValueError(f"cooldown={self.cooldown} and max_backoff={self.max_backoff} should be >= 1")


@dataclass(frozen=True)
class Verdict:
    """What a finished move showed.

    Attributes:
        lower: The lower of the two worker counts (workers, not per GPU).
        higher: The higher one.
        mattered: True: throughput changed with the count by more than noise and ``min_share``; False:
            it did not (the workers above ``lower`` bought nothing; a rise whose gain cannot be told from
            the noise is this too); None: a cut whose cost the noise hid.
        up: The move was a rise (a cut otherwise).
        gain: Mean samples/s at the new count over the mean at the old one, minus 1.
    """

    lower: float
    higher: float
    mattered: bool | None
    up: bool = True
    gain: float = 0.0


def judge(lower: Sequence[float], higher: Sequence[float], lo: float, hi: float, rules: MoveRules) -> bool | None:
    """Whether throughput measured at ``hi`` workers (``higher``) beats that at ``lo`` (``lower``) meaningfully.

    Args:
        lower: Samples/s reported at ``lo`` workers.
        higher: Samples/s reported at ``hi`` workers.
        lo: The lower count, > 0.
        hi: The higher count.
        rules: Thresholds.
    """
    m_lo = statistics.fmean(lower)
    spread = [statistics.variance(xs) for xs in (lower, higher) if len(xs) >= 2]
    if m_lo <= 0 or not spread or not higher:
        return None
    # Relative standard error of the difference of the two means, with the reports' variance pooled
    # over the sides that have two or more (a job moved right after its first measured report has
    # one report at its old count: the move is still judged, against the spread seen at the new one).
    var = statistics.fmean(spread)
    se = math.sqrt(var / len(lower) + var / len(higher)) / m_lo
    noise = rules.z * se
    possible = hi / lo - 1.0  # the relative gain of perfect CPU scaling
    if noise >= 0.5 * possible:
        return None
    gain = statistics.fmean(higher) / m_lo - 1.0
    return gain >= max(noise, rules.min_share * possible)


def neighbours_change(histories: Sequence[Sequence[float]], after: int, skip: int, before: int) -> float:
    """Summed relative change of other jobs' samples/s across a move: what the move cost (or gave) them.

    Each history holds a job's latest reports, oldest first, one a round; the mean of its last ``after``
    is compared with the mean of the ``before`` ones preceding the ``skip`` reports of the transition.
    On a node whose logical CPUs share fewer cores, a worker more for one job is CPU taken from the
    others: its own gain can be their loss, which only their reports show. A job cut to make room for
    the rise counts too: the CPU the rise took from it is part of what the rise cost (leaving such jobs
    out let two jobs on shared cores trade the same CPU back and forth, each rise judged as paying). A history without two
    reports before the transition counts 0.

    Args:
        histories: Samples/s of each other job on the node, per round, oldest first.
        after: Reports since the move (the trial's).
        skip: Reports of the transition, left out.
        before: Reports before it (the baseline's).
    """
    total = 0.0
    for h in histories:
        n0 = min(before, len(h) - after - skip)
        if n0 < 2:
            continue
        tail = list(h)[-(after + skip + n0) :]
        m0 = statistics.fmean(tail[:n0])
        if m0 > 0:
            total += statistics.fmean(tail[-after:]) / m0 - 1.0
    return total


@dataclass
class MoveTrack:
    """One job's reports around its latest change of worker count.

    Attributes:
        base_workers: The count the job ran at before the move being watched (or now, if none is).
        base: Samples/s of its latest reports at ``base_workers``, at most ``rules.window``.
        trial_workers: The count it moved to; None while no move is watched.
        trial: Samples/s of its reports at ``trial_workers`` after the first one there.
    """

    base_workers: float
    base: list[float] = field(default_factory=list)
    trial_workers: float | None = None
    trial: list[float] = field(default_factory=list)

    @property
    def probing(self) -> float | None:
        """The count of a rise not judged yet (None if none is open): no more is offered until it is."""
        t = self.trial_workers
        return t if t is not None and t > self.base_workers else None

    def add(self, workers: float, throughput: float, rules: MoveRules) -> Verdict | None:
        """Takes one report; returns the verdict on the move when its last trial report came in."""
        if abs(workers - self.base_workers) < rules.same:
            # Back at the old count before the verdict (another job needed the CPU): nothing to judge.
            self.trial_workers, self.trial = None, []
            self.base = [*self.base, throughput][-rules.window :]
            return None
        if self.trial_workers is None or abs(workers - self.trial_workers) >= rules.same:
            # A new move: its first report holds the change itself (a worker starting), left out.
            self.trial_workers, self.trial = workers, []
            return None
        self.trial.append(throughput)
        if len(self.trial) < rules.trial_reports:
            return None
        x0, x1 = self.base_workers, self.trial_workers
        mattered: bool | None
        if x0 < x1:
            # A rise has to show beyond the noise: one that cannot be told from it did not matter (the
            # CPUs go back). The first live windows at a new count are noisy (a worker starting takes
            # CPU from everything on the node), so "cannot tell" was the common verdict there.
            mattered = judge(self.base, self.trial, x0, x1, rules) or False
        else:
            mattered = judge(self.trial, self.base, x1, x0, rules)
        gain = statistics.fmean(self.trial) / statistics.fmean(self.base) - 1.0
        # The new count is the baseline of the next move.
        self.base_workers, self.base = x1, self.trial[-rules.window :]
        self.trial_workers, self.trial = None, []
        return Verdict(min(x0, x1), max(x0, x1), mattered, x1 > x0, gain)

    def state_dict(self) -> dict[str, Any]:
        return {"base_workers": self.base_workers, "base": list(self.base),
                "trial_workers": self.trial_workers, "trial": list(self.trial)}  # fmt: skip

    @classmethod
    def from_state(cls, s: dict[str, Any]) -> MoveTrack:
        return cls(float(s["base_workers"]), list(s["base"]), s["trial_workers"], list(s["trial"]))


@dataclass(frozen=True)
class Flat:
    """A learned "no more CPUs": the job's curve is flat from ``x`` until its report count reaches ``until``.

    Attributes:
        x: CPUs per GPU the curve is flat from.
        until: The job's learned-report count at which the flat part expires (it may be offered more again).
        strikes: Flat verdicts in a row before this one (the cooldown doubles with each).
    """

    x: float
    until: int
    strikes: int
