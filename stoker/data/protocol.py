"""The typed messages a local data worker and its trainer exchange over their pipe.

Both ends import this module; each message is one small frozen dataclass, and a message of a
type not listed here is a :class:`ProtocolError`, never silently dropped (a version mismatch
between trainer and worker, or a bug, shows at once instead of as a stall).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stoker.data.errors import StokerError
from stoker.data.splits import Split


class ProtocolError(StokerError):
    """A message of an unknown type crossed a trainer-worker pipe."""


# -- trainer -> worker ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """Run this split and send back a :class:`Result`."""

    split: Split


@dataclass(frozen=True)
class Free:
    """The trainer no longer views these arena files: the worker may reuse them."""

    paths: tuple[str, ...]


@dataclass(frozen=True)
class Drain:
    """Finish the splits already sent, then send :class:`Bye` and exit."""


ToWorker = Run | Free | Drain


# -- worker -> trainer ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    """A finished split: a ``SplitResult`` (its items packed in shared memory) or a ``SplitFailure``."""

    body: Any


@dataclass(frozen=True)
class Started:
    """The worker began running the split ``key`` (only a split that ran is blamed for a crash).

    A traced split (``Split.trace``) also sends ``(epoch, split, position)`` before each sample,
    so a crash is pinned on the sample that caused it.
    """

    key: tuple[int, ...]


@dataclass(frozen=True)
class Forgot:
    """The worker retired these arena files; the trainer may drop its mappings of them."""

    paths: tuple[str, ...]


@dataclass(frozen=True)
class Bye:
    """A drained worker sent everything it held and exits now."""


@dataclass(frozen=True)
class Broken:
    """The worker cannot run the pipeline at all; ``message`` holds its traceback."""

    message: str


ToTrainer = Started | Result | Forgot | Bye | Broken


def expect(message: Any, kinds: tuple[type, ...]) -> Any:
    """Returns ``message`` if it is one of ``kinds``.

    Raises:
        ProtocolError: It is not; names what arrived and what was allowed.
    """
    if not isinstance(message, kinds):
        allowed = ", ".join(k.__name__ for k in kinds)
        raise ProtocolError(
            f"unknown message {type(message).__name__!r} on a stoker worker pipe (expected one of {allowed}); "
            f"the trainer and its workers may run different stoker versions"
        )
    return message


TO_WORKER: tuple[type, ...] = (Run, Free, Drain)
TO_TRAINER: tuple[type, ...] = (Started, Result, Forgot, Bye, Broken)
