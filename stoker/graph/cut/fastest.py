"""Objective ``"fastest"``: the cut with the least time per sample of the slower side, then fewest bytes.

For a trainer that is itself the bottleneck (a CPU-bound or small accelerator): moving
stateless work to the data workers shortens the step even when more bytes cross. Step times
within :data:`stoker.graph.cut.fewest_bytes.TOLERANCE` of the fastest count as equal.
"""

from __future__ import annotations

from collections.abc import Sequence

from stoker.graph.cut.base import Candidate
from stoker.graph.cut.fewest_bytes import TOLERANCE


def choose(candidates: Sequence[Candidate], workers: int) -> tuple[Candidate, str]:
    fastest = min(c.step_s(workers) for c in candidates)
    near = [c for c in candidates if c.step_s(workers) <= fastest * (1 + TOLERANCE)]
    best = min(near, key=lambda c: (round(c.bytes_per_sample, 3), -len(c.moved), tuple(sorted(c.moved))))
    return best, f"fewest bytes/sample among the {len(near)} cuts within {TOLERANCE:.0%} of the fastest step"
