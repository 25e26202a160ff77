"""A Loader's membership in the cluster controller: ``stoker.Loader(..., backend="ray", cluster=True)``.

The trainer's thread only calls :meth:`Membership.tick` from the Loader's own tick (every ``interval``):
it snapshots ``loader.stats()`` once per round into a :class:`~stoker.cluster.learning.JobReport` for a
background thread, and applies the newest budget that thread brought back with ``loader.set_budget(n)``.
The budget *caps* the Loader's own autoscaler (it decides how many of those workers it needs); when the
budget shrinks, surplus workers are drained by the Loader's ledger, so no sample is lost or repeated.

Only the background thread talks to the controller, with short timeouts. If the controller is gone the
job keeps its last budget, says so once in the log, and keeps trying to reach it (by name) every round;
when a controller runs again its next report re-registers the job.

The first report joins (``join``, with ``$STOKER_CLUSTER_SECRET`` when the operator set one) and brings
back the job's token; every later report and the goodbye carry it. A report the controller refuses is
logged once and the job trains on with its last budget; one refused because the job is no longer a
member (dropped as silent, or a controller restarted without state) makes the next report join again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import socket
import threading
import time
from typing import Any

from stoker.cluster.learning import JobReport

log = logging.getLogger("stoker")

ENV_FLAG = "STOKER_CLUSTER"  # "1" turns membership on for every Ray-backend Loader
ENV_NAME = "STOKER_JOB_NAME"  # job name (default: host-pid)
ENV_GPUS = "STOKER_JOB_GPUS"  # accelerators the trainer holds (default 1)
FIRST_PERIOD_S = 1.0  # report period until the controller says its own


def wanted(cluster: bool | str | None) -> bool:
    """Whether a Loader built with ``cluster=`` should join: the keyword, else ``$STOKER_CLUSTER``."""
    if cluster is None:
        return os.environ.get(ENV_FLAG, "") not in ("", "0", "false", "no")
    return bool(cluster)


def join(loader: Any, cluster: bool | str | None, backend: str) -> Membership | None:
    """The Loader's hook: a :class:`Membership` if it should join the controller, else None.

    Args:
        loader: The Loader being built.
        cluster: The Loader's ``cluster=`` keyword: True, a job name, False, or None for ``$STOKER_CLUSTER``.
        backend: The Loader's backend; the controller hands out Ray CPUs, so only ``"ray"`` can join.
    """
    if not wanted(cluster):
        return None
    if cluster is None and backend != "ray":
        return None  # $STOKER_CLUSTER covers every Loader of the program: only the Ray ones can join
    if backend != "ray":
        raise ValueError(f"cluster={cluster!r} needs backend='ray' (the controller budgets Ray CPUs), not {backend!r}")
    return Membership(loader, name=cluster if isinstance(cluster, str) else None)


class Membership:
    """Reports a Loader to the controller every round and applies the budgets it answers.

    Args:
        loader: The job's ``stoker.Loader`` (anything with ``stats()`` and ``set_budget(n)``).
        name: Job name; default ``$STOKER_JOB_NAME`` or ``host-pid``.
        gpus: Accelerators the trainer holds; default ``$STOKER_JOB_GPUS`` or 1.
        timeout_s: Longest wait on one controller call (in the background thread).
    """

    def __init__(self, loader: Any, name: str | None = None, gpus: float | None = None, timeout_s: float = 2.0) -> None:
        self.loader = loader
        self.name = name or os.environ.get(ENV_NAME) or f"{socket.gethostname()}-{os.getpid()}"
        self.gpus = float(gpus if gpus is not None else os.environ.get(ENV_GPUS, "1"))
        if not self.gpus > 0:
            raise ValueError(f"gpus={self.gpus} should be > 0 (set {ENV_GPUS} to the trainer's accelerators)")
        self.timeout_s = timeout_s
        self.node = _node_id()
        self.period_s = FIRST_PERIOD_S
        self.budget: int | None = None  # last budget the controller gave, None before any
        self.applied: int | None = None
        self.connected = False
        self.rejoins = 0  # times the job found a controller again after losing it
        self.token: str | None = None  # from the controller's join; only it can report for this job
        self._warned = False
        self._last = self._counters()
        self._next = time.monotonic()
        self._outbox: queue.Queue[JobReport | None] = queue.Queue(maxsize=1)
        self._thread = threading.Thread(target=self._talk, name=f"stoker-cluster-{self.name}", daemon=True)
        self._thread.start()

    # -- trainer thread ------------------------------------------------------------------------
    def tick(self) -> None:
        """Called from the Loader's tick: cheap, never blocks."""
        budget = self.budget
        if budget is not None and budget != self.applied:
            self.loader.set_budget(budget)
            self.applied = budget
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + self.period_s
        report = self._report()
        # Full: the thread still waits on the last report, and this round's is skipped.
        with contextlib.suppress(queue.Full):
            self._outbox.put_nowait(report)

    def _counters(self, stats: dict[str, Any] | None = None) -> tuple[float, float, float]:
        s = stats if stats is not None else self.loader.stats()
        return float(s["samples"]), float(s["wait_s"]), float(s["step_s"])

    def _report(self) -> JobReport:
        stats = self.loader.stats()
        now = self._counters(stats)
        samples, wait, step = (a - b for a, b in zip(now, self._last))
        self._last = now
        busy = wait + step
        workers = float(stats["workers"])
        if busy <= 0:
            return JobReport(self.name, self.node, self.gpus, 0.0, 0.0, workers)
        return JobReport(self.name, self.node, self.gpus, samples / busy, wait / busy, workers)

    # -- background thread ---------------------------------------------------------------------
    def _talk(self) -> None:
        import ray
        from ray.exceptions import GetTimeoutError, RayError

        from stoker.cluster import daemon
        from stoker.cluster.admission import Refused

        handle = None
        while True:
            report = self._outbox.get()
            if report is None:
                break
            try:
                handle = handle or daemon.find()
                if handle is None:
                    raise LookupError("no controller runs")
                reply = self._send(ray, handle, report)
            except Refused as exc:  # Ray raises the actor's exception as an instance of its class
                self._refused(exc)
                continue
            except (LookupError, RayError, GetTimeoutError, ConnectionError) as exc:
                handle = None
                self._lost(exc)
                continue
            if not self.connected:
                if self._warned:
                    self.rejoins += 1
                log.info("stoker: job %s joined the cluster controller: budget %d workers", self.name, reply.workers)
            self.connected, self._warned = True, False
            self.budget, self.period_s = int(reply.workers), float(reply.period_s)

    def _send(self, ray: Any, handle: Any, report: JobReport) -> Any:
        if self.token is None:
            from stoker.cluster.daemon import secret_from_env

            joined = ray.get(handle.join.remote(report, secret_from_env()), timeout=self.timeout_s)
            self.token = joined.token
            return joined.budget
        return ray.get(handle.report.remote(report, self.token), timeout=self.timeout_s)

    def _refused(self, exc: Exception) -> None:
        cause = getattr(exc, "cause", exc)  # Ray's wrapper keeps the controller's exception as ``cause``
        if getattr(cause, "rejoin", False):
            self.token = None  # the next report joins again
        if not self._warned:
            self._warned = True
            log.warning("stoker: the cluster controller refused job %s: %s", self.name, str(cause)[:300])

    def _lost(self, exc: BaseException) -> None:
        self.connected = False
        if not self._warned:
            self._warned = True
            keep = "its own autoscaler" if self.budget is None else f"its last budget of {self.budget} workers"
            log.warning(
                "stoker: job %s cannot reach the cluster controller (%s); training on with %s, rejoining when it is back",
                self.name,
                str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__,
                keep,
            )

    def close(self) -> None:
        """Leaves the controller (best effort, short timeout) and stops the thread; safe to call twice."""
        if not self._thread.is_alive():
            return
        with contextlib.suppress(queue.Empty):
            self._outbox.get_nowait()
        self._outbox.put(None)
        self._thread.join(timeout=self.timeout_s + 1)
        if self.connected:
            import ray

            from stoker.cluster import daemon

            try:
                handle = daemon.find()
                if handle is not None and self.token is not None:
                    ray.get(handle.leave.remote(self.name, self.token), timeout=self.timeout_s)
            except Exception as exc:  # leaving is a courtesy: the controller drops silent jobs anyway
                log.debug("stoker: job %s could not say goodbye to the controller: %s", self.name, exc)


def _node_id() -> str:
    import ray

    return ray.get_runtime_context().get_node_id() if ray.is_initialized() else socket.gethostname()
