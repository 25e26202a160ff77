"""The trainer-side Loader: dispatcher, receiver (the Recv of a plan) and autoscaler in one loop.

Everything that touches the ledger runs in the trainer's thread inside ``next()``, so there is
one writer and no locks; workers run ahead by ``prefetch`` splits each, so the trainer rarely
waits when supply matches demand.
"""

from __future__ import annotations

import logging
import math
import os
import time
import weakref
from collections.abc import Iterator
from typing import Any

from stoker.backends import make_pool
from stoker.backends.base import Done, Exited, Fatal, Lost, WorkerPool
from stoker.data.autoscale import ScalingSignal, get_policy
from stoker.data.dispatcher import Dispatcher
from stoker.data.errors import (
    DataTimeoutError,
    PipelineSerializationError,
    StokerError,
    find_class,
    sample_error,
)
from stoker.data.executor import Executor, SplitFailure, SplitResult
from stoker.data.pipeline import Pipeline, from_dataset
from stoker.data.stats import LoaderStats

log = logging.getLogger("stoker")

_INLINE = -1  # worker id of the in-process executor (workers=0)
WAIT_LOG_S = 30.0  # how often a starving trainer logs that it is still waiting


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def as_pipeline(source: Any) -> Pipeline:
    """Accepts a Pipeline, a partition plan (``__stoker_pipeline__``) or a map-style Dataset."""
    if isinstance(source, Pipeline):
        return source
    hook = getattr(source, "__stoker_pipeline__", None)
    if callable(hook):
        return hook()
    if hasattr(source, "__len__") and hasattr(source, "__getitem__"):
        return from_dataset(source)
    raise TypeError(
        f"Loader() takes a stoker pipeline, a partition plan or a map-style Dataset, got {type(source).__name__}"
    )


def serialize_pipeline(pipeline: Pipeline) -> bytes:
    """Cloudpickles the pipeline, naming the operator that cannot be sent to workers."""
    import cloudpickle

    from stoker.data import mp_pickle

    try:
        return mp_pickle.dumps(pipeline)
    except Exception as exc:
        for op in pipeline.ops:
            try:
                cloudpickle.dumps(op.fn)
            except Exception as op_exc:
                raise PipelineSerializationError(
                    f"the {op.kind} function {op.name!r} cannot be sent to worker processes "
                    f"({type(op_exc).__name__}: {op_exc}). Make it a module-level function or a "
                    f"picklable object, open resources lazily inside it, or use workers=0."
                ) from op_exc
        try:
            cloudpickle.dumps(pipeline.source.data)
        except Exception as src_exc:
            raise PipelineSerializationError(
                f"the source {pipeline.source.name!r} cannot be sent to worker processes "
                f"({type(src_exc).__name__}: {src_exc}). Open files or connections lazily in "
                f"__getitem__ instead of holding them on the dataset."
            ) from src_exc
        raise PipelineSerializationError(f"the pipeline cannot be sent to workers: {exc}") from exc


class Loader:
    """Iterates a pipeline's batches, produced by elastic data workers, exactly once per epoch.

    Each ``iter(loader)`` runs one epoch (or the rest of one restored with
    :meth:`load_state_dict`). Workers persist across epochs until :meth:`close`.

    Args:
        source: A :class:`Pipeline`, a partition plan, or a map-style ``Dataset``.
        workers: Number of worker processes, ``0`` for in-process, or ``"auto"`` to let the
            autoscaler match the trainer's demand within ``[min_workers, max_workers]``.
        seed: Seed of every per-sample random choice (and of shuffle, unless the pipeline's
            ``shuffle`` names its own).
        deterministic: Deliver in stream order (bit-identical whatever the workers); False
            delivers in arrival order, which hides stragglers.
        on_error: ``"raise"`` (default) raises :class:`SampleError` naming the sample and file;
            ``"skip"`` drops the sample and lists it in ``stats()``.
        min_workers: Autoscaler's lower bound (default 1).
        max_workers: Autoscaler's upper bound (default: the CPU cores available).
        prefetch: Splits in flight per worker.
        split_size: Samples per split for unbatched pipelines (batched: one batch per split).
        backend: ``"local"`` (processes) or ``"ray"`` (actors).
        autoscaler: Name of the scaling policy (see :mod:`stoker.data.autoscale`).
        interval: Seconds between autoscaler decisions.
        timeout: Seconds without any progress before raising; None waits, logging every 30 s.
        max_attempts: Workers a split may be lost with before it is reported as poisonous.
        rank: This trainer's rank in a data-parallel job (default 0).
        world_size: Ranks in the job; each gets a disjoint share of every epoch, together
            exactly the epoch.
        splits: A :class:`stoker.data.sampling.SamplerSplits` that draws each epoch's splits
            (a torch sampler's indices) in place of the pipeline's own order.
        start_workers: Start the workers now; False starts them at the first ``iter()``
            (torch's DataLoader does that).
        continue_after_error: After raising a sample's error, go on with the next item
            (torch's semantics); default: the failed split stays unconsumed, so a resumed
            Loader retries it.
        **backend_options: Passed to the worker pool (``mp_context`` for local; ``address``,
            ``num_cpus`` for Ray).
    """

    def __init__(
        self,
        source: Any,
        workers: int | str = "auto",
        *,
        seed: int = 0,
        deterministic: bool = True,
        on_error: str = "raise",
        min_workers: int | None = None,
        max_workers: int | None = None,
        prefetch: int = 2,
        split_size: int = 32,
        backend: str = "local",
        autoscaler: str = "throughput",
        interval: float = 0.5,
        timeout: float | None = None,
        max_attempts: int = 3,
        rank: int = 0,
        world_size: int = 1,
        splits: Any = None,
        start_workers: bool = True,
        continue_after_error: bool = False,
        **backend_options: Any,
    ) -> None:
        self.pipeline = as_pipeline(source)
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error={on_error!r} should be 'raise' or 'skip'")
        if not isinstance(seed, int):
            raise TypeError(f"seed={seed!r} should be an int")
        self.auto = workers == "auto"
        if not self.auto and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 0):
            raise ValueError(f"workers={workers!r} should be a non-negative int or 'auto'")
        self.max_workers = _cores() if max_workers is None else max_workers
        self.min_workers = 1 if min_workers is None else min_workers
        if not 0 <= self.min_workers <= self.max_workers:
            raise ValueError(
                f"min_workers={self.min_workers} and max_workers={self.max_workers} should satisfy 0 <= min <= max"
            )
        if interval <= 0:
            raise ValueError(f"{interval=} should be > 0 seconds")
        self._splits = splits
        self.continue_after_error = continue_after_error
        if splits is None and len(self.pipeline) == 0:
            raise ValueError(f"the source {self.pipeline.source.name!r} is empty; nothing to load")
        self.seed = seed
        self.deterministic = deterministic
        self.on_error = on_error
        self.interval = interval
        self.timeout = timeout
        self._policy = get_policy(autoscaler)
        batch = self.pipeline.batch_op
        size = batch.args["size"] if batch else split_size
        drop_last = bool(batch.args["drop_last"]) if batch else False
        shuffle = self.pipeline.shuffle_op
        shuffle_seed = None if shuffle is None else (shuffle.args["seed"] if shuffle.args["seed"] is not None else seed)
        self._batched = batch is not None
        self._dispatcher = Dispatcher(
            len(self.pipeline) if splits is None else 0,
            size,
            drop_last,
            shuffle_seed,
            prefetch,
            deterministic,
            max_attempts,
            rank,
            world_size,
        )
        self._target = self.min_workers if self.auto else int(workers)
        self._inline = (
            Executor(self.pipeline, seed, on_error, in_trainer=True) if (not self.auto and workers == 0) else None
        )
        self._pool: WorkerPool | None = None
        self._backend = backend
        self._backend_options = backend_options
        self._fixed_max = max_workers is not None
        if self._inline is None and start_workers:
            self.start_workers()
        self._stats = LoaderStats(self._target)
        self._epoch = -1  # last epoch started
        self._resume: dict[str, Any] | None = None
        self._current: tuple[int, list[Any], int] | None = None  # (split, items, next item)
        self._epoch_complete = True
        self._last_change = time.monotonic()
        self._last_direction = 0
        self._calm = 0
        self._up_demand: float | None = None
        self._up_at = -math.inf
        self._next_tick = time.monotonic() + interval
        self._closed = False

    # -- worker count ------------------------------------------------------------------------

    def start_workers(self) -> None:
        """Starts the worker pool (a no-op in-process or when it runs); ``iter()`` calls it too."""
        if self._inline is not None or self._pool is not None:
            return
        self._pool = make_pool(
            self._backend,
            pipeline_bytes=serialize_pipeline(self.pipeline),
            seed=self.seed,
            on_error=self.on_error,
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
            return [_INLINE] if self._inline is not None else []
        return [w for w in self._pool.workers() if w not in self._dispatcher._draining]

    def _reconcile(self) -> None:
        if self._pool is None:
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
        if n != self._target:
            self._last_direction = 1 if n > self._target else -1
            self._last_change = time.monotonic()
            self._calm = 0
        self._target = n
        self._reconcile()
        self._stats.on_workers(n)

    def _tick(self) -> None:
        now = time.monotonic()
        if now < self._next_tick or self._pool is None:
            return
        self._next_tick = now + self.interval
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
            queue_depth=len(self._dispatcher._received),
            cpu_free=self._pool.cpu_free(),
            since_change_s=now - self._last_change,
            last_direction=self._last_direction,
            calm_windows=self._calm,
            up_demand=self._up_demand,
            since_up_s=now - self._up_at,
        )
        decision = self._policy(signal)
        self._calm = self._calm + 1 if decision.wants_down and decision.target == self._target else 0
        self._stats.on_decision(decision.target, decision.reason)
        if decision.target > self._target and decision.demand is not None and self._last_direction < 0:
            # Starving right after a scale-down refutes that scale-down: remember the demand so
            # the policy does not try the same count again soon (start-up ramps are not regrets).
            self._up_demand, self._up_at = decision.demand, now
        self._set_target(decision.target)

    # -- receiving -----------------------------------------------------------------------------

    def _book(self, worker: Any, key: tuple[int, int], result: Any) -> None:
        """Records a finished split in the ledger; duplicates are dropped there."""
        d = self._dispatcher
        if d.receive(worker, key, result) and isinstance(result, SplitResult):
            self._stats.on_result(result)

    def _pump(self, timeout: float) -> None:
        """Issues splits, waits up to ``timeout`` for results, books them in the ledger."""
        d = self._dispatcher
        if self._pool is None:
            self.start_workers()
        if self._pool is None:
            for w, split in d.assign([_INLINE]):
                self._book(w, split.key, self._inline.run(split))  # type: ignore[union-attr]
            return
        for w, split in d.assign([w for w in self._live() if self._pool.ready(w)]):
            self._pool.submit(w, split)
        for ev in self._pool.poll(timeout):
            if isinstance(ev, Done):
                self._book(ev.worker, ev.key, ev.result)
            elif isinstance(ev, Lost):
                back = d.lost(ev.worker)
                self._stats.lost_workers += 1
                log.warning("stoker: data worker %s %s; re-issuing splits %s", ev.worker, ev.reason, back)
            elif isinstance(ev, Exited):
                d.forget(ev.worker)
            elif isinstance(ev, Fatal):
                raise StokerError(ev.message)
        self._reconcile()

    def _next_split(self) -> tuple[int, Any] | None:
        """Blocks until the next split is ready; None at the end of the epoch."""
        d = self._dispatcher
        started = last_log = time.monotonic()
        progress = d.outstanding() + len(d._delivered)
        while True:
            ready = d.pop_ready()
            if ready is not None:
                return ready
            if d.done:
                return None
            self._tick()
            self._pump(0.05)
            now = time.monotonic()
            marker = d.outstanding() + len(d._delivered) + d.duplicates
            if marker != progress:
                progress, started = marker, now
            if self.timeout is not None and now - started > self.timeout:
                stalled = self._pool.stall_reason() if self._pool is not None else None
                raise DataTimeoutError(
                    f"no data for {self.timeout:.0f} s: {len(self._live())} workers alive, "
                    f"{d.outstanding()} splits outstanding; {stalled or 'a pipeline function may hang'}"
                )
            if now - last_log > WAIT_LOG_S:
                last_log = now
                log.warning(
                    "stoker: trainer has waited %.0f s for data (%d workers alive)",
                    now - started,
                    len(self._live()),
                )

    # -- iteration -----------------------------------------------------------------------------

    def _begin(self) -> None:
        if self._closed:
            raise StokerError("this Loader is closed")
        if self._resume is not None:
            state, self._resume = self._resume, None
            epoch = state["epoch"]
            if state["complete"]:
                epoch += 1
                delivered: set[int] = set()
                partial = None
                self._draw_splits(None)
            else:
                self._draw_splits(state)
                delivered = self._dispatcher.delivered_from_state(state["dispatcher"])
                partial = state["partial"]
        else:
            epoch, delivered, partial = self._epoch + 1, set(), None
            self._draw_splits(None)
        self._epoch = epoch
        self._dispatcher.begin_epoch(epoch, delivered)
        self._current = None
        self._skip_partial = partial  # (split, items already consumed)
        self._epoch_complete = False

    def _draw_splits(self, state: dict[str, Any] | None, replay: bool = True) -> None:
        """Gives the dispatcher this epoch's sampler splits: drawn now, or those of a saved epoch.

        A saved epoch is still drawn once and discarded (``replay``), so the RNGs the sampler
        reads advance as in the run that saved it and the epochs after it match that run.
        """
        if self._splits is None:
            return
        if state is not None and replay:
            self._splits.draw()
        splits = self._splits.restore(state[self._splits.KEY]) if state is not None else self._splits.draw()
        self._dispatcher.use_splits(splits)

    def __iter__(self) -> Iterator[Any]:
        self._begin()
        return self._iterate()

    def continue_epoch(self) -> Iterator[Any]:
        """A new iterator over the rest of the current epoch, e.g. after an error was raised.

        Python ends a generator that raised, so with ``continue_after_error`` the caller
        (``stoker.DataLoader``) takes a new one here to go on with the next item, as torch does.
        """
        if self._epoch_complete:
            return iter(())
        return self._iterate()

    def _iterate(self) -> Iterator[Any]:
        last_yield: float | None = None
        while True:
            resumed = time.monotonic()
            step = resumed - last_yield if last_yield is not None else 0.0
            item = self._next_item()
            if item is _END:
                self._epoch_complete = True
                self._current = None
                return
            now = time.monotonic()
            self._stats.on_item(self._item_samples(item), now - resumed, step)
            last_yield = time.monotonic()
            yield item

    def _item_samples(self, item: Any) -> int:
        if not self._batched:
            return 1
        return self._last_split_samples

    def _next_item(self) -> Any:
        while True:
            if self._current is not None:
                k, items, pos = self._current
                if pos < len(items):
                    self._current = (k, items, pos + 1)
                    return items[pos]
                self._current = None
            ready = self._next_split()
            if ready is None:
                return _END
            k, payload = ready
            if isinstance(payload, SplitFailure):
                if not self.continue_after_error:
                    self._dispatcher._delivered.discard(k)  # not consumed: a resumed loader retries it
                original = find_class(payload.exc_module, payload.exc_qualname) if payload.exc_qualname else None
                raise sample_error(
                    original,
                    f"{payload.message}\n--- worker traceback ---\n{payload.traceback}",
                    payload.indices,
                    payload.file,
                    payload.op,
                    payload.traceback,
                )
            start = 0
            if self._skip_partial is not None and self._skip_partial[0] == k:
                start = self._skip_partial[1]
                self._skip_partial = None
            self._last_split_samples = payload.samples - payload.filtered - len(payload.skipped)
            self._current = (k, payload.items, start)

    # -- state -----------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Where the stream stands: enough for a fresh Loader (any process) to continue it exactly."""
        d = self._dispatcher
        if self._resume is not None:
            return dict(self._resume)
        partial = None
        if self._current is not None and not self._epoch_complete:
            k, items, pos = self._current
            if pos < len(items):
                partial = (k, pos)  # that split is not fully consumed: resume it at item pos
        state = {
            "epoch": self._epoch,
            "complete": self._epoch_complete,
            "seed": self.seed,
            "dispatcher": d.state_dict(unfinished=partial[0] if partial else None),
            "partial": partial,
        }
        if self._splits is not None:
            state[self._splits.KEY] = self._splits.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Makes the next ``iter()`` continue the stream saved by :meth:`state_dict`."""
        for key in ("epoch", "complete", "seed", "dispatcher", "partial"):
            if key not in state:
                raise ValueError(f"not a stoker Loader state: missing {key!r}")
        if state["seed"] != self.seed:
            raise ValueError(f"state was saved with seed={state['seed']} but this Loader has seed={self.seed}")
        if self._splits is not None and state["epoch"] >= 0:
            if self._splits.KEY not in state:
                raise ValueError(
                    f"the state has no {self._splits.KEY!r} entry; it was not saved by a sampler DataLoader"
                )
            self._draw_splits(state, replay=False)  # validates the sampler's identity
        if state["epoch"] >= 0 and not state["complete"]:
            self._dispatcher.delivered_from_state(state["dispatcher"])  # validates the shape
        if state["epoch"] < 0:
            self._resume = None
            self._epoch = -1
            return
        self._resume = dict(state)

    # -- introspection and lifetime ----------------------------------------------------------

    @property
    def workers(self) -> int:
        """Worker count the loader is running (or converging to)."""
        return 0 if self._pool is None else self._target

    @property
    def pool(self) -> WorkerPool | None:
        return self._pool

    def stats(self) -> dict[str, Any]:
        """Throughput, data-wait and worker figures (see ``docs/architecture.md``)."""
        d = self._dispatcher
        extra = {
            "epoch": self._epoch,
            "duplicates_dropped": d.duplicates,
            "splits_reissued": d.reissued,
            "autoscale": self.auto,
            "min_workers": self.min_workers,
            "max_workers": self.max_workers,
        }
        return self._stats.snapshot(self.workers, extra)

    def __len__(self) -> int:
        """Items per epoch (batches, or samples when unbatched), before filtering and skips."""
        if self._batched:
            return len(self._dispatcher.owned)
        return (
            sum(len(self._dispatcher.split(k).indices) for k in self._dispatcher.owned)
            if self._dispatcher.epoch >= 0
            else len(self.pipeline)
        )

    def close(self) -> None:
        """Stops the workers and removes their shared memory; safe to call twice."""
        self._closed = True
        if self._pool is not None:
            self._finalizer()

    def __enter__(self) -> Loader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_END = object()
