"""What running a split produces: the records a worker sends back, and the markers its runners share.

Both the :class:`~stoker.data.executor.Executor` (map-style splits) and the stream runner
(:mod:`stoker.data.streams.runner`) build these, so they live here and the dependency runs one
way: ``executor -> streams.runner -> outcome`` and ``executor -> outcome``.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from typing import Any

DROP = object()  # what a filter returns for a sample it drops (never a user value)


@dataclass
class SkipRecord:
    """A sample dropped under ``on_error="skip"``."""

    epoch: int
    index: int
    file: str | None
    op: str
    error: str


@dataclass
class SplitResult:
    """What a worker returns for a split.

    Attributes:
        key: (epoch, split index).
        items: Batches (or samples, for an unbatched pipeline) in stream order.
        skipped: Samples dropped by ``on_error="skip"``.
        filtered: Samples dropped by ``filter``.
        stage_s: Seconds spent per operator name over the split.
        samples: Number of samples attempted.
        busy_s: Wall seconds the worker spent on the split.
    """

    key: tuple[int, int]
    items: Any  # list of items; a transport.Packed while in transit
    skipped: list[SkipRecord] = field(default_factory=list)
    filtered: int = 0
    stage_s: dict[str, float] = field(default_factory=dict)
    samples: int = 0
    busy_s: float = 0.0


@dataclass
class SplitFailure:
    """A split that failed under ``on_error="raise"``; the trainer turns it into a SampleError."""

    key: tuple[int, int]
    message: str
    indices: tuple[int, ...]
    file: str | None
    op: str
    traceback: str
    # The original exception, re-raised as its own type in the trainer (stoker.data.errors).
    exc_type: str = ""
    exc_module: str = ""
    exc_message: str = ""
    exc_qualname: str = ""


class OpFailed(Exception):
    """An exception raised by user code (an operator, a data set), with the operator's name.

    Attributes:
        op: The operator (``"read:<source>"``, a map's name, ``"state_dict:<library>"``).
        exc: The exception user code raised.
        tb: Its traceback as text, taken where it was caught (the worker's side).
    """

    def __init__(self, op: str, exc: BaseException) -> None:
        super().__init__(op)
        self.op = op
        self.exc = exc
        self.tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def failure(
    key: tuple[int, int], message: str, indices: tuple[int, ...], file: str | None, op: str, exc: BaseException, tb: str
) -> SplitFailure:
    """A :class:`SplitFailure` that carries ``exc``'s type, so the trainer re-raises it as that type."""
    kind = type(exc)
    return SplitFailure(
        key,
        message,
        indices,
        file,
        op,
        tb,
        exc_type=kind.__name__,
        exc_module=kind.__module__,
        exc_message=str(exc),
        exc_qualname=kind.__qualname__,
    )
