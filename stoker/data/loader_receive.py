"""The Loader's receive loop: issue splits to workers, book what comes back, replace stuck workers.

A mixin of :class:`stoker.data.loader.Loader`, its only user, kept in its own file so that each part of the Loader
reads in one sitting. Everything here runs in the trainer's thread inside ``next()`` (one writer of the ledger);
the attributes annotated on the class are the Loader's, set in its ``__init__``.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from stoker.backends.base import Began, Done, Exited, Fatal, Lost, WorkerPool
from stoker.data.errors import DataTimeoutError, StokerError, WorkerLostError
from stoker.data.executor import SplitResult
from stoker.data.loader_scaling import INLINE, WorkerScaling
from stoker.data.watchdog import ProgressWatch, head, run_with_timeout

log = logging.getLogger("stoker")

WAIT_LOG_S = 30.0  # how often a starving trainer logs that it is still waiting


class SplitReceiver(WorkerScaling):
    """Issuing splits and booking results in the dispatcher's ledger (the Recv side of a plan)."""

    timeout: float | None
    _lock: threading.RLock
    _watch: ProgressWatch

    def _book(self, worker: Any, key: tuple[int, int], result: Any) -> None:
        """Records a finished split in the ledger; duplicates are dropped there."""
        d = self._dispatcher
        if d.receive(worker, key, result) and isinstance(result, SplitResult):
            self._stats.on_result(result)

    def _pump(self, timeout: float) -> None:
        """Issues splits, waits up to ``timeout`` for results, books them in the ledger."""
        d = self._dispatcher
        if self._pool is None and self._inline is None:
            self.start_workers()  # started at the first iter() (start_workers=False, torch's way)
        if self._pool is None or self._inline is not None:
            for w, split in d.assign([INLINE]):
                self._book(w, split.key, run_with_timeout(self._inline, split, self.timeout))  # type: ignore[arg-type]
            return
        now = time.monotonic()
        live = [w for w in self._live() if self._pool.ready(w)]
        idle = {w for w in live if not d.in_flight(w)}
        for w, split in d.assign(live):
            if w in idle:
                self._watch.assigned(w, now)
            self._pool.submit(w, split)
        for ev in self._pool.poll(timeout):
            if isinstance(ev, Began):
                self._watch.progressed(ev.worker, time.monotonic())
                d.began(ev.worker, ev.key)
            elif isinstance(ev, Done):
                self._watch.progressed(ev.worker, time.monotonic())
                self._book(ev.worker, ev.key, ev.result)
            elif isinstance(ev, Lost):
                # A worker replaced for hanging is charged its oldest split even if it never said
                # it began one: else a worker stuck before starting would be replaced forever.
                stuck = self._watch.gone(ev.worker)
                try:
                    back = d.lost(ev.worker, ev.reason, self._pool.reports_starts and not stuck)
                except WorkerLostError as err:
                    if stuck:  # every attempt hung past `timeout`: a timeout (torch words it so, too)
                        raise DataTimeoutError(str(err)) from err
                    raise
                self._stats.lost_workers += 1
                log.warning("stoker: data worker %s %s; re-issuing splits %s", ev.worker, ev.reason, back)
            elif isinstance(ev, Exited):
                self._watch.gone(ev.worker)
                d.forget(ev.worker)
            elif isinstance(ev, Fatal):
                raise StokerError(ev.message)
        if self.timeout is not None:
            self._replace_stuck(self._pool, self.timeout, time.monotonic())
        self._reconcile()

    def _replace_stuck(self, pool: WorkerPool, timeout: float, now: float) -> None:
        """Replaces every worker that held a split for ``timeout`` seconds without progress."""
        d = self._dispatcher
        for w, k in self._watch.overdue(timeout, now, d.running):
            reason = (
                f"made no progress on split {k} (samples {head(d.split(k).indices)}) for {timeout:g} s "
                f"(stopped or hung) and was replaced"
            )
            log.warning("stoker: data worker %s %s", w, reason)
            self._stats.stuck_workers += 1
            pool.replace(w, reason)

    def _next_split(self) -> tuple[int, Any] | None:
        """Blocks until the next split is ready; None at the end of the epoch (or once closed)."""
        d = self._dispatcher
        started = last_log = time.monotonic()
        progress: tuple[int, ...] = ()
        while True:
            with self._lock:
                if self._closed:
                    return None
                ready = d.pop_ready()
                if ready is not None:
                    return ready
                if d.done:
                    return None
                self._tick()
                self._pump(0.05)
            now = time.monotonic()
            marker = (d.outstanding(), d.delivered_count(), d.duplicates, self._stats.lost_workers)
            if marker != progress:
                progress, started = marker, now
            # Held splits are covered by _replace_stuck; this catches a pool that runs nothing at all.
            if self.timeout is not None and now - started > self.timeout and not d.issued_count():
                stalled = self._pool.stall_reason() if self._pool is not None else None
                raise DataTimeoutError(
                    f"no data for {self.timeout:.0f} s: {len(self._live())} workers alive, "
                    f"{d.outstanding()} splits outstanding; {stalled or 'no worker could start'}"
                )
            if now - last_log > WAIT_LOG_S:
                last_log = now
                log.warning(
                    "stoker: trainer has waited %.0f s for data (%d workers alive)",
                    now - started,
                    len(self._live()),
                )
