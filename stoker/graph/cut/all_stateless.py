"""The naive objective: every stateless node that does not depend on state moves to the data side.

The partition rule as stated in the literature, without looking at cost; kept as a baseline
that ``explain()`` compares the chosen cut against, and selectable with ``objective="all_stateless"``.
"""

from __future__ import annotations

from collections.abc import Sequence

from stoker.graph.cut.base import Candidate


def choose(candidates: Sequence[Candidate], workers: int) -> tuple[Candidate, str]:
    best = max(candidates, key=lambda c: (len(c.moved), tuple(sorted(c.moved))))
    return best, "every stateless node moves (naive partition rule, cost not considered)"
