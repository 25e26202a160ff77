"""The WorkerPool interface that the Loader drives, and the events a pool reports."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from stoker.data.splits import Split


@dataclass
class Done:
    """A worker finished a split; ``result`` is a SplitResult (items ready to use) or SplitFailure."""

    worker: int
    key: tuple[int, int]
    result: Any


@dataclass
class Began:
    """A worker started running a split (pools whose ``reports_starts`` is True send these)."""

    worker: int
    key: tuple[int, ...]  # (epoch, split), or (epoch, split, sample position) for a traced split


@dataclass
class Lost:
    """A worker died or vanished; its splits must be re-issued."""

    worker: int
    reason: str


@dataclass
class Exited:
    """A drained worker finished what it held and exited cleanly."""

    worker: int


@dataclass
class Fatal:
    """A worker could not start the pipeline at all (replacing it would fail the same way)."""

    worker: int
    message: str


Event = Began | Done | Lost | Exited | Fatal


class WorkerPool(ABC):
    """Data workers that run splits of one pipeline.

    Implementations own processes or actors; the Loader owns the ledger. ``poll`` is the only
    place results come back, so exactly-once bookkeeping happens in one thread.

    Attributes:
        reports_starts: The pool sends :class:`Began` when a worker starts a split, so a lost
            worker's blame falls only on a split that really ran; otherwise the ledger assumes
            the oldest split a worker holds is the one it runs.
    """

    reports_starts: bool = False

    @abstractmethod
    def add_worker(self) -> int:
        """Starts a worker; returns its id (never reused)."""

    @abstractmethod
    def submit(self, worker: Any, split: Split) -> None:
        """Queues a split on a worker."""

    @abstractmethod
    def drain(self, worker: Any) -> None:
        """Asks a worker to finish what it holds and exit."""

    @abstractmethod
    def poll(self, timeout: float) -> list[Event]:
        """Waits up to ``timeout`` seconds for events; returns all that are ready."""

    @abstractmethod
    def workers(self) -> list[int]:
        """Ids of the workers that may still return results."""

    @abstractmethod
    def close(self) -> None:
        """Stops every worker and frees their resources; idempotent."""

    @abstractmethod
    def replace(self, worker: Any, reason: str) -> None:
        """Ends a stuck worker at once (it made no progress for the Loader's ``timeout``).

        The next :meth:`poll` reports it as :class:`Lost` with ``reason``; the ledger re-issues
        its splits to other workers and the Loader starts a replacement.
        """

    def shm_stats(self) -> dict[str, int] | None:
        """The shared-memory pool as the trainer sees it (None for backends without one)."""
        return None

    def ready(self, worker: Any) -> bool:
        """True when ``worker`` can take splits now (a Ray actor still waiting for a node cannot)."""
        return True

    def capacity(self) -> int | None:
        """Workers the backend could run in all, the autoscaler's default ceiling (None: this machine's cores)."""
        return None

    def stall_reason(self) -> str | None:
        """Why workers cannot make progress, when the backend knows (e.g. no node has room)."""
        return None

    def cpu_free(self) -> float | None:
        """CPUs free for another worker, where the backend can tell (None: unknown)."""
        return None

    def describe(self) -> dict[str, Any]:
        """Backend-specific facts for stats (node placement, pids)."""
        return {}
