"""What the controller accepts from a job: who it is (tokens, the operator's secret) and what it says
(reports with finite numbers in range). Pure functions: :mod:`stoker.cluster.service` calls them before a
report is stored, so nothing a job sends can reach a round's arithmetic unchecked.

Tokens and the secret are kept only as SHA-256 digests (in memory and in the saved state), and compared
in constant time. docs/ray.md gives the threat model.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from collections.abc import Sequence
from numbers import Real

from stoker.cluster.learning import JobReport
from stoker.cluster.records import Node

MAX_NAME = 200  # characters of a job or node name
MAX_THROUGHPUT = 1e9  # samples/s: far above any trainer, far below what overflows a curve fit
MAX_WORKERS = 65536  # data workers one job can have run with


class Refused(ValueError):
    """A message the controller refuses; the message names the value and the job.

    Attributes:
        rejoin: The job is not (or no longer) a member: joining again is the way out.
    """

    def __init__(self, message: str, rejoin: bool = False) -> None:
        super().__init__(message)
        self.rejoin = rejoin

    def __reduce__(self) -> tuple[type[Refused], tuple[str, bool]]:
        # It crosses Ray to the job: keep ``rejoin`` (pickling an exception keeps only its args).
        return (Refused, (str(self), self.rejoin))


def new_token() -> str:
    """A fresh job token: 256 random bits, URL-safe text."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """The SHA-256 hex digest kept in place of a token or secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def matches(given: object, kept: str | None) -> bool:
    """Whether ``given`` is the token (or secret) whose digest is ``kept``, in constant time."""
    if kept is None or not isinstance(given, str):
        return False
    return hmac.compare_digest(digest(given), kept)


def _finite(name: str, value: object, low: float, high: float, job: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise Refused(f"job {job!r}: {name}={value!r} is not a number")
    x = float(value)
    if not math.isfinite(x) or not low <= x <= high:
        raise Refused(f"job {job!r}: {name}={x!r} should be a finite number in [{low:g}, {high:g}]")
    return x


def _text(name: str, value: object) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_NAME or not value.isprintable():
        raise Refused(f"{name}={str(value)[:MAX_NAME]!r} should be printable text of 1 to {MAX_NAME} characters")
    return value


def gpu_limit(node: str, nodes: Sequence[Node]) -> float:
    """Most accelerators a job on ``node`` may claim: that node's GPUs when the cluster knows them, else the
    cluster's, else 1 (a CPU-only Ray cluster, where trainers' GPUs are not Ray resources)."""
    own = [n.gpus for n in nodes if n.name == node and n.gpus > 0]
    if own:
        return float(own[0])
    return float(max(1, sum(n.gpus for n in nodes)))


def check_report(r: object, nodes: Sequence[Node]) -> JobReport:
    """Returns ``r`` if the controller may store it.

    Raises:
        Refused: ``r`` is not a :class:`JobReport`, a name is not short printable text, or a number is
            not finite or out of range (``0 < gpus <= gpu_limit``, ``0 <= throughput <= MAX_THROUGHPUT``,
            ``0 <= data_wait <= 1``, ``0 <= workers <= MAX_WORKERS``).
    """
    if not isinstance(r, JobReport):
        raise Refused(f"a report should be a JobReport, not {type(r).__name__}")
    name = _text("name", r.name)
    _text("node", r.node)
    gpus = _finite("gpus", r.gpus, 0.0, gpu_limit(r.node, nodes), name)
    if gpus <= 0:
        raise Refused(f"job {name!r}: gpus={gpus!r} should be > 0")
    _finite("throughput", r.throughput, 0.0, MAX_THROUGHPUT, name)
    _finite("data_wait", r.data_wait, 0.0, 1.0, name)
    _finite("workers", r.workers, 0.0, MAX_WORKERS, name)
    return r
