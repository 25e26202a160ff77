"""Default objective: fewest bytes across the cut without making the data side the bottleneck.

Called by :func:`stoker.partition`. Among cuts whose data side keeps up with the training side
(``data_s / workers <= train_s``), take the one crossing the fewest bytes per sample; on a tie,
move more (it takes work off the accelerator at no transfer cost). When every cut leaves the
data side the bottleneck, take the fewest bytes among the cuts within :data:`TOLERANCE` of the
fastest job (``max(data_s / workers, train_s)``): a crop that saves bytes for a microsecond of
CPU should not lose to timer noise.
"""

from __future__ import annotations

from collections.abc import Sequence

from stoker.graph.cut.base import Candidate

TOLERANCE = 0.05  # step times within 5% of the fastest count as equally fast


def _tie(c: Candidate) -> tuple[int, tuple[str, ...]]:
    return (-len(c.moved), tuple(sorted(c.moved)))


def choose(candidates: Sequence[Candidate], workers: int) -> tuple[Candidate, str]:
    keeps_up = [c for c in candidates if not c.data_bound(workers)]
    if keeps_up:
        best = min(keeps_up, key=lambda c: (round(c.bytes_per_sample, 3), *_tie(c)))
        why = (
            f"fewest bytes/sample among the {len(keeps_up)} of {len(candidates)} cuts whose data side "
            f"keeps up with the training side at {workers} workers"
        )
        return best, why
    fastest = min(c.step_s(workers) for c in candidates)
    near = [c for c in candidates if c.step_s(workers) <= fastest * (1 + TOLERANCE)]
    best = min(near, key=lambda c: (round(c.bytes_per_sample, 3), *_tie(c)))
    why = (
        f"the data side is the bottleneck for every cut at {workers} workers, so fewest bytes/sample "
        f"among the {len(near)} cuts within {TOLERANCE:.0%} of the fastest"
    )
    return best, why
