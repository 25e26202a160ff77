"""The Loader's worker count: the pool's start and stop, ``scale()``, ``set_budget()`` and the autoscaler's tick.

A mixin of :class:`stoker.data.loader.Loader`, its only user, kept in its own file so that each part of the Loader
reads in one sitting. The attributes annotated on the class are the Loader's, set in its ``__init__``; the Loader owns
them, this file only groups the methods that change how many workers run.
"""

from __future__ import annotations

import time
import weakref
from typing import Any

from stoker.backends import make_pool
from stoker.backends.base import WorkerPool
from stoker.data.autoscale import ScalingSignal
from stoker.data.autoscale.history import AutoscaleHistory
from stoker.data.dispatcher import Dispatcher
from stoker.data.errors import StokerError
from stoker.data.executor import Executor
from stoker.data.pipeline import Pipeline
from stoker.data.stats import LoaderStats

INLINE = -1  # worker id of the in-process executor (workers=0)


class WorkerScaling:
    """How many workers run, and the autoscaler's decisions (see :mod:`stoker.data.autoscale`)."""

    pipeline: Pipeline
    seed: int
    on_error: str
    prefetch: int
    auto: bool
    min_workers: int
    max_workers: int
    interval: float
    _inline: Executor | None
    _pool: WorkerPool | None
    _closed: bool
    _backend: str
    _backend_options: dict[str, Any]
    _fixed_max: bool
    _finalizer: weakref.finalize
    _dispatcher: Dispatcher
    _target: int
    _history: AutoscaleHistory
    _stats: LoaderStats
    _next_tick: float
    _member: Any
    _policy: Any

    def start_workers(self) -> None:
        """Starts the worker pool (a no-op in-process or when it runs); ``iter()`` calls it too."""
        if self._inline is not None or self._pool is not None or self._closed:
            return  # never respawn workers once closed (close() may come from inside the loop)
        self._pool = make_pool(
            self._backend,
            pipeline=self.pipeline,
            seed=self.seed,
            on_error=self.on_error,
            prefetch=self.prefetch,
            **self._backend_options,
        )
        self._finalizer = weakref.finalize(self, self._pool.close)
        capacity = self._pool.capacity() if not self._fixed_max else None
        if capacity is not None:  # e.g. a Ray cluster's CPUs rather than this machine's cores
            self.max_workers = max(self.min_workers, capacity)
        self._reconcile()

    def stop_workers(self) -> None:
        """Stops the worker pool between epochs (torch's ``persistent_workers=False``).

        Anything still in flight belongs to an epoch that is over or abandoned; the next
        ``iter()`` starts a fresh pool (with the pipeline as it is then).
        """
        if self._pool is not None:
            self._finalizer()
            self._pool = None

    def _live(self) -> list[int]:
        if self._pool is None:
            return [INLINE] if self._inline is not None else []
        return [w for w in self._pool.workers() if not self._dispatcher.is_draining(w)]

    def _reconcile(self) -> None:
        if self._pool is None or self._closed:
            return
        live = self._live()
        for _ in range(self._target - len(live)):
            self._pool.add_worker()
        if len(live) > self._target:
            # Drain the workers holding the least work, newest first: nothing is lost, little waits.
            victims = sorted(live, key=lambda w: (len(self._dispatcher.in_flight(w)), -w))[: len(live) - self._target]
            for w in victims:
                self._dispatcher.drain(w)
                self._pool.drain(w)

    def scale(self, n: int) -> None:
        """Sets the worker count by hand (turns the autoscaler off); in-flight work is kept."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"scale(n={n!r}) needs a positive int (workers=0 is chosen at construction)")
        if self._inline is not None:
            raise StokerError("this Loader runs in-process (workers=0) and cannot scale")
        self.auto = False
        self._set_target(n)

    def set_budget(self, max_workers: int) -> None:
        """Caps the autoscaler at ``max_workers`` (the cluster controller's CPU budget)."""
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
            raise ValueError(f"set_budget(max_workers={max_workers!r}) needs a positive int")
        self.max_workers = max_workers
        self.min_workers = min(self.min_workers, max_workers)
        if self._target > max_workers:
            self._set_target(max_workers)

    def _set_target(self, n: int) -> None:
        self._history.on_target(self._target, n, time.monotonic())
        self._target = n
        self._reconcile()
        self._stats.on_workers(n)

    def _tick(self) -> None:
        now = time.monotonic()
        if now < self._next_tick or self._pool is None:
            return
        self._next_tick = now + self.interval
        if self._member is not None:
            self._member.tick()
        w = self._stats.take_window()
        if not self.auto:
            return
        signal = ScalingSignal(
            workers=self._target,
            min_workers=self.min_workers,
            max_workers=self.max_workers,
            window_s=w["window_s"],
            wait_s=w["wait_s"],
            step_s=w["step_s"],
            items=int(w["items"]),
            worker_busy_s=w["worker_busy_s"],
            worker_items=int(w["worker_items"]),
            queue_depth=self._dispatcher.queued(),
            cpu_free=self._pool.cpu_free(),
            **self._history.signal_fields(now),
        )
        decision = self._policy(signal)
        self._history.on_decision(decision, self._target, now)
        self._stats.on_decision(decision.target, decision.reason)
        self._set_target(decision.target)
