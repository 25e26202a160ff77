"""Default objective: fewest bytes across the cut without making the data side the bottleneck.

Called by :func:`stoker.partition`. Among cuts whose data side keeps up with the training side
(``data_s / workers <= train_s``), take the one crossing the fewest bytes per sample; on a tie,
move more (it takes work off the accelerator at no transfer cost). When every cut leaves the
data side the bottleneck, take the fastest job (``max(data_s / workers, train_s)``), then bytes.
"""

from __future__ import annotations

from collections.abc import Sequence

from stoker.graph.cut.base import Candidate


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
    best = min(candidates, key=lambda c: (c.step_s(workers), round(c.bytes_per_sample, 3), *_tie(c)))
    why = (
        f"the data side is the bottleneck for every cut at {workers} workers, so the cut with the "
        f"least time per sample (then fewest bytes) wins"
    )
    return best, why
