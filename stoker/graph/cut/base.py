"""A candidate cut as a plain record, and the registry of objectives that choose among candidates.

An objective is a pure function ``(candidates, workers) -> (chosen, why)`` of plain records, so it
can be tested without a model. Objectives live one per module (``fewest_bytes``, ``fastest``,
``all_stateless``, ``nothing``); :func:`get_objective` loads them by name.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Candidate:
    """One valid cut and its measured cost.

    Attributes:
        moved: Model nodes that run on the data side.
        crossing: Values that cross the cut (Send on the data side, Recv on the training side).
        bytes_per_sample: Bytes per sample that cross, summed over ``crossing``.
        data_s: CPU seconds per sample on the data side (pipeline + moved nodes).
        train_s: Seconds per sample of the step's forward left on the training side.
        data_noise_s: Spread of ``data_s`` over the timed batches (seconds per sample).
        train_noise_s: Spread of ``train_s`` over the timed runs (seconds per sample).
    """

    moved: frozenset[str]
    crossing: tuple[str, ...]
    bytes_per_sample: float
    data_s: float
    train_s: float
    data_noise_s: float = 0.0
    train_noise_s: float = 0.0

    def data_bound(self, workers: int) -> bool:
        """True when ``workers`` data workers would be slower than the training side."""
        return self.data_s / max(workers, 1) > self.train_s

    def binding(self, workers: int) -> str:
        """``"data"`` or ``"training"``: the slower side, or ``"neither (within noise)"``.

        A side binds only when the gap between the two exceeds the noise of both measurements.
        """
        data, gap = self.data_s / max(workers, 1), self.data_s / max(workers, 1) - self.train_s
        if abs(gap) <= self.data_noise_s / max(workers, 1) + self.train_noise_s:
            return "neither (within noise)"
        return "data" if data > self.train_s else "training"

    def step_s(self, workers: int) -> float:
        """Seconds per sample of the slower side (what the job runs at, if they overlap)."""
        return max(self.data_s / max(workers, 1), self.train_s)


Objective = Callable[[Sequence[Candidate], int], tuple[Candidate, str]]

OBJECTIVES = ("fewest_bytes", "fastest", "all_stateless", "nothing")


def get_objective(name: str) -> Objective:
    """The objective called ``name`` (one of :data:`OBJECTIVES`)."""
    if name not in OBJECTIVES:
        raise ValueError(f"objective={name!r} is not known; choose one of {list(OBJECTIVES)}")
    return importlib.import_module(f"stoker.graph.cut.{name}").choose  # type: ignore[no-any-return]
