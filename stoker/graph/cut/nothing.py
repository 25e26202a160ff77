"""Keeps the whole step on the training side: the pipeline's output crosses as it is.

Selectable with ``objective="nothing"``; useful to compare against, or when the model's
prefix must see ``model.train()``/``model.eval()`` switches.
"""

from __future__ import annotations

from collections.abc import Sequence

from stoker.graph.cut.base import Candidate


def choose(candidates: Sequence[Candidate], workers: int) -> tuple[Candidate, str]:
    best = min(candidates, key=lambda c: len(c.moved))
    return best, "nothing moves (objective='nothing')"
