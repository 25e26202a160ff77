"""The trainer-side Loader: dispatcher, receiver (the Recv of a plan) and autoscaler in one loop.

Everything that touches the ledger runs in the trainer's thread inside ``next()``, so there is
one writer; a lock only lets :meth:`Loader.close` from another thread wait for the current
step. Workers run ahead by ``prefetch`` splits each, so the trainer rarely waits when supply
matches demand.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from stoker.backends import check_options
from stoker.backends.base import WorkerPool
from stoker.cluster import membership
from stoker.data.autoscale import get_policy
from stoker.data.autoscale.history import AutoscaleHistory
from stoker.data.balance import NOTHING
from stoker.data.dispatcher import Dispatcher
from stoker.data.errors import StokerError, find_class, sample_error
from stoker.data.executor import Executor, SplitFailure, SplitResult
from stoker.data.fingerprint import stream_fingerprint
from stoker.data.intake import as_pipeline
from stoker.data.loader_receive import SplitReceiver
from stoker.data.loader_state import StreamState
from stoker.data.stats import LoaderStats
from stoker.data.streams.ledger import dispatcher_for
from stoker.data.watchdog import ProgressWatch
from stoker.obs.attach import attach_observer
from stoker.obs.diagnose import Diagnosis, diagnose
from stoker.system import cpu_count

if TYPE_CHECKING:
    from stoker.optimize.optimizer import OptimizeReport

log = logging.getLogger("stoker")


class Loader(SplitReceiver, StreamState):
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
        timeout: Seconds a worker may hold a split without returning anything: then the
            worker is replaced and the split re-issued to another (with ``workers=0``, the
            split is abandoned and an error raised). None waits, logging every 30 s.
        max_attempts: Workers a split may be lost with (killed, or stuck past ``timeout``
            while running it) before it is reported as poisonous.
        rank: This trainer's rank in a data-parallel job (default 0).
        world_size: Ranks in the job; each gets a disjoint share of every epoch, together
            exactly the epoch, and every rank the same number of items (the remainder is
            padded with repeated samples, or dropped when the batch has ``drop_last=True``).
        optimize: Rewrite the pipeline first with :func:`stoker.optimize` (exact rewrites only:
            autocache, fusion, reordering); its report is ``loader.optimize_report``.
        cluster: Join the cluster controller (``stoker cluster start``): True, or the job's name;
            None follows ``$STOKER_CLUSTER``. Needs ``backend="ray"``; the controller's budget caps
            the autoscaler (see :mod:`stoker.cluster.membership`).
        name: Job name in metrics, logs and ``stoker top`` (default: the script's name).
        metrics_port: Serve Prometheus metrics on this port (``0``: any free one; ``"host:port"``
            to bind another address than 127.0.0.1); default ``$STOKER_METRICS_PORT`` or off.
        stats_log: Path of a JSONL timeline of ``stats()`` (one line a second) for ``stoker report``.
        tensorboard: A ``SummaryWriter`` (anything with ``add_scalar``) that gets the figures as scalars.
        splits: A :class:`stoker.data.sampling.SamplerSplits` that draws each epoch's splits
            (a torch sampler's indices) in place of the pipeline's own order.
        start_workers: Start the workers now; False starts them at the first ``iter()``
            (torch's DataLoader does that).
        continue_after_error: After raising a sample's error, go on with the next item
            (torch's semantics); default: the failed split stays unconsumed, so a resumed
            Loader retries it.
        **backend_options: Passed to the worker pool (``mp_context`` for local; ``address``,
            ``num_cpus`` for Ray).

    Raises:
        TypeError: an option that neither the Loader nor the backend takes (at construction).
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
        optimize: bool = False,
        name: str | None = None,
        metrics_port: int | str | None = None,
        stats_log: str | os.PathLike[str] | None = None,
        tensorboard: Any = None,
        cluster: bool | str | None = None,
        splits: Any = None,
        start_workers: bool = True,
        continue_after_error: bool = False,
        **backend_options: Any,
    ) -> None:
        self.pipeline = given = as_pipeline(source)
        self.optimize_report: OptimizeReport | None = None
        if optimize:  # rewrites that keep batches bit-identical; report in self.optimize_report
            from stoker.optimize import optimize as rewrite

            self.pipeline, self.optimize_report = rewrite(self.pipeline, seed=seed)
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error={on_error!r} should be 'raise' or 'skip'")
        if not isinstance(seed, int):
            raise TypeError(f"seed={seed!r} should be an int")
        self.auto = workers == "auto"
        if not self.auto and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 0):
            raise ValueError(f"workers={workers!r} should be a non-negative int or 'auto'")
        self.max_workers = cpu_count() if max_workers is None else max_workers
        self.min_workers = 1 if min_workers is None else min_workers
        if not 0 <= self.min_workers <= self.max_workers:
            raise ValueError(
                f"min_workers={self.min_workers} and max_workers={self.max_workers} should satisfy 0 <= min <= max"
            )
        if interval <= 0:
            raise ValueError(f"{interval=} should be > 0 seconds")
        if timeout is not None and not timeout > 0:
            raise ValueError(f"{timeout=} should be > 0 seconds, or None to wait forever")
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
            raise ValueError(f"{max_attempts=} should be a positive int")
        self._splits = splits
        self.continue_after_error = continue_after_error
        stream = self.pipeline.source.kind == "stream"
        if splits is None and not stream and len(self.pipeline) == 0:
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
        if splits is None:
            self._dispatcher = dispatcher_for(
                self.pipeline, size, drop_last, shuffle_seed, prefetch, deterministic, max_attempts, rank, world_size
            )
        else:  # a torch sampler draws each epoch's splits (stoker.data.sampling)
            self._dispatcher = Dispatcher(
                0, size, drop_last, shuffle_seed, prefetch, deterministic, max_attempts, rank, world_size
            )
        # Data-parallel ranks pad short splits so that every rank yields len(loader) items (balance.py).
        replicas = world_size if splits is None else max(world_size, splits.replicas)
        self._balance = self._dispatcher.balance
        self._balance.enabled = replicas > 1 and not stream
        self._dispatcher.skip_crashes = on_error == "skip"  # a sample that kills its worker is skipped
        # From the pipeline as given: an exact rewrite does not change the stream, so a state saved
        # with optimize on resumes with it off (and whatever the optimiser decides next time).
        self._fingerprint = stream_fingerprint(given, seed=seed, split_size=size, rank=rank, world_size=world_size)
        self._lock = threading.RLock()  # close() from another thread waits for the current step
        self._closed = False
        self._watch = ProgressWatch()  # which busy workers made no progress for `timeout`
        self._live_iter: weakref.ref[Iterator[Any]] | None = None
        self._target = self.min_workers if self.auto else int(workers)
        self._inline = (
            Executor(self.pipeline, seed, on_error, in_trainer=True) if (not self.auto and workers == 0) else None
        )
        self._pool: WorkerPool | None = None
        self.prefetch = prefetch
        self._backend = backend
        check_options(backend, backend_options)  # now, not when the workers start (maybe at iter())
        self._backend_options = backend_options
        self._fixed_max = max_workers is not None
        if self._inline is None and start_workers:
            self.start_workers()
        self._stats = LoaderStats(self._target)
        self._epoch = -1  # last epoch started
        self._resume: dict[str, Any] | None = None
        self._current: tuple[int, list[Any], int] | None = None  # (split, items, next item)
        self._epoch_complete = True
        self._history = AutoscaleHistory(last_change=time.monotonic())
        self._next_tick = time.monotonic() + interval
        self.prefetch = prefetch
        self.backend = backend
        self.rank = rank
        try:
            self._observer = attach_observer(self, name, metrics_port, stats_log, tensorboard)
        except BaseException:
            if self._pool is not None:  # a taken port or a bad path: do not leave workers behind
                self._finalizer()
            raise
        self._member = membership.join(self, cluster, backend)

    # -- receiving -----------------------------------------------------------------------------

    # -- iteration -----------------------------------------------------------------------------

    def _begin(self) -> None:
        if self._closed:
            raise StokerError("this Loader is closed")
        live = self._live_iter() if self._live_iter is not None else None
        if live is not None and getattr(live, "gi_frame", None) is not None:
            raise StokerError(
                "another iterator over this Loader is still live: a Loader streams one epoch at a time, and a "
                "second iter() would silently end the first. Exhaust or delete the first iterator (or call "
                "close() to stop), then call iter() again."
            )
        owed, pad_from = 0, None  # items a resumed rank still owes, and the split that pads them (balance.py)
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
                owed, pad_from = state["dispatcher"].get("owed", 0), state["dispatcher"].get("pad_from")
                partial = state["partial"]
        else:
            epoch, delivered, partial = self._epoch + 1, set(), None
            self._draw_splits(None)
        self._epoch = epoch
        self._dispatcher.begin_epoch(epoch, delivered)
        self._balance.begin(owed, pad_from)
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
        it = self._iterate()
        self._live_iter = weakref.ref(it)
        return it

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
            item = _END if self._closed else self._next_item()
            if self._closed:
                return  # close() ended the loop: the epoch is not complete, state_dict() says where it stopped
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
                pad = self._balance.pad_end(self._epoch, self._last_item_of)
                return _END if pad is NOTHING else pad
            k, payload = ready
            if isinstance(payload, SplitFailure):
                self._stats.on_failure()
                if not self.continue_after_error:
                    self._dispatcher.undeliver(k)  # not consumed: a resumed loader retries it
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
            items = self._balance.fill(payload.items, 1 if self._batched else payload.samples, k)
            self._current = (k, items, start)

    def _last_item_of(self, k: int) -> Any:
        """Split ``k``'s last item, computed again in the trainer (a resumed rank pads with it)."""
        out = (self._inline or Executor(self.pipeline, self.seed, self.on_error, in_trainer=True)).run(
            self._dispatcher.split(k)
        )
        if not isinstance(out, SplitResult) or not out.items:
            raise StokerError(f"split {k}, which this rank pads its epoch with, no longer delivers an item")
        return out.items[-1]

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
            "shm_pool": self._pool.shm_stats() if self._pool is not None else None,
            "queue_depth": self._dispatcher.queued(),
            "prefetch": self.prefetch,
            "job": self._observer.name,
            "rank": self.rank,
            "padded_items": self._balance.padded,
            "backend": self.backend,
            "cpu_free": self._observer.cpu_free(),
            "cache": self.optimize_report.stats() if self.optimize_report is not None else None,
        }
        return self._stats.snapshot(self.workers, extra)

    def diagnose(self, since: dict[str, Any] | None = None) -> Diagnosis:
        """What the trainer waits on and what would help (see :func:`stoker.obs.diagnose`).

        Args:
            since: An earlier ``stats()`` of this loader: judge only what happened after it.
        """
        return diagnose(self.stats(), since)

    @property
    def metrics_address(self) -> str | None:
        """``http://host:port`` of this loader's Prometheus metrics, or None when off."""
        return self._observer.address

    def __len__(self) -> int:
        """Items per epoch (batches, or samples when unbatched), before filtering and skips."""
        if self.pipeline.source.kind == "stream":
            raise TypeError(f"the stream {self.pipeline.source.name!r} has no length; iterate it to its end")
        if self._batched:
            return len(self._dispatcher.owned)
        return self._dispatcher.owned_samples() if self._dispatcher.epoch >= 0 else len(self.pipeline)

    def close(self) -> None:
        """Stops the workers and removes their shared memory.

        Safe to call twice, from inside the loop (the iterator then ends) and from another
        thread (it waits for the trainer's current step, at most one poll of 50 ms).
        """
        with self._lock:
            self._closed = True
            self._observer.close()
            member = getattr(self, "_member", None)
            if member is not None:
                member.close()
            if self._pool is not None:
                self._finalizer()

    def __enter__(self) -> Loader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_END = object()
