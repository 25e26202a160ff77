"""Consistency models of a parameter server: BSP, SSP(staleness=s), ASP.

A worker's *clock* is the number of gradients it has pushed. Before computing its next gradient
a worker at clock ``c`` pulls; the shard answers only when the slowest worker has clock
``>= c - s`` (Ho et al., "More Effective Distributed ML via a Stale Synchronous Parallel
Parameter Server", NIPS'13). BSP is ``s = 0`` with the round's gradients averaged into one
update; ASP is unbounded. The shard calls :func:`may_read` on every pull and after every push.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Consistency:
    """A consistency model.

    Attributes:
        kind: ``"bsp"``, ``"ssp"`` or ``"asp"``.
        staleness: Clocks a reader may run ahead of the slowest worker (SSP); 0 for BSP.
    """

    kind: str
    staleness: int = 0

    def __post_init__(self) -> None:
        if self.kind not in ("bsp", "ssp", "asp"):
            raise ValueError(f"consistency kind={self.kind!r} should be one of 'bsp', 'ssp', 'asp'")
        if self.staleness < 0:
            raise ValueError(f"{self.staleness=} should be >= 0")

    @property
    def synchronous(self) -> bool:
        """Whether a round's pushes are averaged into one update (BSP) rather than applied one by one."""
        return self.kind == "bsp"

    @classmethod
    def parse(cls, text: str) -> Consistency:
        """Parses ``bsp``, ``asp``, ``ssp:3`` or ``ssp(staleness=3)``."""
        t = text.strip().lower().replace(" ", "")
        if t in ("bsp", "asp"):
            return cls(t)
        for prefix, suffix in (("ssp:", ""), ("ssp(staleness=", ")"), ("ssp(", ")")):
            if t.startswith(prefix) and t.endswith(suffix):
                body = t[len(prefix) : len(t) - len(suffix)]
                if body.isdigit():
                    return cls("ssp", int(body))
        raise ValueError(f"consistency {text!r} should be 'bsp', 'asp', 'ssp:S' or 'ssp(staleness=S)'")


def may_read(model: Consistency, reader_clock: int, clocks: Sequence[int]) -> bool:
    """Whether a worker that has pushed ``reader_clock`` gradients may pull now.

    Args:
        model: The consistency model.
        reader_clock: Pushes done by the reader.
        clocks: Pushes applied (or, under BSP, averaged in) per worker, as the shard counts them.
    """
    if model.kind == "asp":
        return True
    return min(clocks) >= reader_clock - model.staleness
