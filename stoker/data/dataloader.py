"""A drop-in for ``torch.utils.data.DataLoader`` backed by stoker's elastic, exactly-once workers.

:class:`DataLoader` *is* a ``torch.utils.data.DataLoader`` (same signature, attributes, argument
checks, ``len()``, ``DataLoader[T]``, ``isinstance``); only iteration differs. At ``iter()`` the
sampler is drawn in the trainer as torch draws it (:mod:`stoker.data.sampling`), its batches become
the ledger's splits, and stoker's workers (started then, as torch starts its own) read and collate
them. See ``docs/migration.md`` for each argument's behaviour and the guarantees it keeps.
"""

from __future__ import annotations

import contextlib
import inspect
import multiprocessing
import warnings
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from typing import Any, TypeVar

import torch
import torch.utils.data as tud

from stoker.data.errors import DataTimeoutError
from stoker.data.loader import Loader
from stoker.data.pinning import Pinner
from stoker.data.pipeline import Pipeline, Source, from_dataset
from stoker.data.sampling import SamplerIdentity, SamplerSplits
from stoker.data.worker_setup import WorkerSetup
from stoker.system import cpu_count

T_co = TypeVar("T_co", covariant=True)

# Loader arguments a user may pass through; the others are set from torch's arguments.
_SET_HERE = {"workers", "seed", "deterministic", "prefetch", "split_size", "backend", "timeout", "splits"}
_SET_HERE |= {"start_workers", "continue_after_error"}
_LOADER_ARGS = (
    frozenset(inspect.signature(Loader.__init__).parameters) - {"self", "source", "backend_options"} - _SET_HERE
)
_LOCAL_ARGS = frozenset({"mp_context"})
_WARNED: set[str] = set()


def _warn_once(key: str, message: str) -> None:
    """One warning per process and kind, like torch's own once-per-location warnings."""
    if key not in _WARNED:
        _WARNED.add(key)
        warnings.warn(message, UserWarning, stacklevel=3)


def _flatten_options(options: dict[str, Any]) -> dict[str, Any]:
    """The Loader options, with ``options={...}`` (a rebuild from the ``options`` attribute) merged in."""
    nested = options.pop("options", None)
    if nested is None:
        return options
    if not isinstance(nested, dict):
        raise TypeError(f"options={nested!r} should be a dict of stoker.Loader arguments")
    return {**nested, **options}


def _worker_count(num_workers: Any, autoscale: bool, options: dict[str, Any]) -> tuple[bool, int]:
    """``(autoscale, num_workers)`` with ``num_workers`` an int, as torch's attribute holds it.

    ``"auto"`` becomes the most workers the autoscaler may run (``max_workers``, else the cores
    available); with ``autoscale=True`` an int is that bound.
    """
    if num_workers == "auto":
        autoscale, num_workers = True, options.get("max_workers") or cpu_count()
    if isinstance(num_workers, bool) or not isinstance(num_workers, int):
        raise ValueError(f"num_workers={num_workers!r} should be a non-negative int or 'auto'")
    if not isinstance(autoscale, bool):
        raise TypeError(f"autoscale={autoscale!r} should be a bool")
    if autoscale:
        if num_workers < 1:
            raise ValueError(f"autoscale=True needs num_workers >= 1 (the most workers to run), got {num_workers}")
        if options.setdefault("max_workers", num_workers) != num_workers:
            raise ValueError(
                f"max_workers={options['max_workers']} and num_workers={num_workers} disagree: with autoscale, "
                "num_workers is the most workers to run; give one of them"
            )
    return autoscale, num_workers


def _map_pipeline(dataset: Any) -> Pipeline:
    """A pipeline over a map-style dataset; one without ``__len__`` works too (its sampler knows)."""
    if hasattr(dataset, "__len__"):
        return from_dataset(dataset)
    return Pipeline(Source("dataset", dataset, type(dataset).__name__))


def _stream_source() -> Callable[..., Pipeline] | None:
    try:
        from stoker.data.streams import from_iterable  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    return from_iterable  # type: ignore[no-any-return]


class DataLoader(tud.DataLoader[T_co]):
    """``torch.utils.data.DataLoader`` with exactly-once, elastic, resumable workers.

    Every argument of torch 2.13's DataLoader is accepted with torch's meaning; the keyword-only
    arguments after ``in_order`` are stoker's.

    Args:
        dataset: A map-style dataset, or an ``IterableDataset`` (read as virtual shards by
            :func:`stoker.from_iterable`).
        batch_size, shuffle, sampler, batch_sampler, collate_fn, drop_last, generator: As in
            torch; the sampler is drawn in the trainer at ``iter()``.
        num_workers: Worker processes; ``0`` in-process; ``"auto"`` lets stoker's autoscaler
            choose (stoker's extension: the attribute then holds the most workers it may run, an
            int as torch's, and ``autoscale`` is True).
        pin_memory: Pin batches on a side thread when an accelerator is present (torch warns
            and skips pinning otherwise; so does this).
        timeout: Seconds without data before an error (``0``: wait).
        worker_init_fn: Called in each worker with its id, after torch's seeding; stoker's
            per-sample seeding is then off (a warning says so).
        multiprocessing_context: Start method (name or context) of the local workers.
        prefetch_factor: Splits (batches) in flight per worker.
        persistent_workers: Keep workers between epochs; False restarts them at each ``iter()``.
        pin_memory_device: Deprecated in torch; accepted and warned about as torch does.
        in_order: False delivers batches as they arrive.
        seed: Seed of per-sample randomness; None draws it at the first ``iter()`` from
            ``generator`` (or torch's global RNG), as torch draws its workers' base seed.
        backend: ``"local"`` processes or ``"ray"`` actors.
        split_size: Samples per split when batching is off (``batch_size=None``).
        autoscale: Let the autoscaler run between 1 and ``num_workers`` workers
            (``num_workers="auto"`` sets it, with ``num_workers`` the cores available).
        **options: Other :class:`stoker.Loader` arguments (``on_error``, ``max_workers``,
            ``max_attempts`` ...) and backend options (Ray ``address``). They are kept in the
            ``options`` attribute; ``options={...}`` (what frameworks that rebuild a loader from
            its attributes pass back) is read as those arguments.
    """

    def __init__(
        self,
        dataset: tud.Dataset[T_co],
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler: tud.Sampler[Any] | Iterable[Any] | None = None,
        batch_sampler: tud.Sampler[list[Any]] | Iterable[list[Any]] | None = None,
        num_workers: int | str = 0,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable[[int], None] | None = None,
        multiprocessing_context: Any = None,
        generator: torch.Generator | None = None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
        in_order: bool = True,
        seed: int | None = None,
        backend: str = "local",
        split_size: int = 32,
        autoscale: bool = False,
        **options: Any,
    ) -> None:
        options = _flatten_options(options)
        autoscale, num_workers = _worker_count(num_workers, autoscale, options)
        self.autoscale = autoscale  # read by check_worker_number_rationality() inside torch's __init__
        # torch checks and stores every argument. By keyword: a framework that records the call to
        # rebuild the loader (Lightning's _update_dataloader) then never passes an argument twice.
        super().__init__(
            dataset=dataset,
            batch_size=batch_size,
            shuffle=shuffle,
            sampler=sampler,
            batch_sampler=batch_sampler,
            num_workers=num_workers,
            collate_fn=collate_fn,
            pin_memory=pin_memory,
            drop_last=drop_last,
            timeout=timeout,
            worker_init_fn=worker_init_fn,
            multiprocessing_context=multiprocessing_context,
            generator=generator,
            prefetch_factor=prefetch_factor,
            persistent_workers=persistent_workers,
            pin_memory_device=pin_memory_device,
            in_order=in_order,
        )
        # Again after torch's __init__: a framework that records what is set after construction
        # (Lightning, when it recorded only torch's call) replays it on the loader it rebuilds.
        self.autoscale = autoscale
        unknown = set(options) - _LOADER_ARGS - (_LOCAL_ARGS if backend == "local" else set(options))
        if unknown:
            raise TypeError(
                f"DataLoader() got unexpected keyword arguments {sorted(unknown)}; stoker accepts torch's "
                f"arguments plus {sorted(_LOADER_ARGS | {'seed', 'backend', 'split_size', 'autoscale'})}"
            )
        if seed is not None and not isinstance(seed, int):
            raise TypeError(f"seed={seed!r} should be an int or None")
        self.seed = seed
        self.backend = backend
        self.split_size = split_size
        self.options = options
        self._stoker: Loader | None = None
        self._pending_state: dict[str, Any] | None = None
        self._generation = 0
        # The current epoch's iterator, weakly: an iterator the caller dropped (a sanity check
        # stopped after 2 batches) is collected and ends its epoch then, as torch's does.
        self._live: weakref.ref[_StokerIter] | None = None
        self._consumed_state: dict[str, Any] | None = None  # state after the last pinned batch taken
        if worker_init_fn is not None:
            _warn_once(
                "worker_init_fn",
                "stoker.DataLoader: worker_init_fn is given, so workers are seeded as torch seeds them "
                "(base_seed + worker_id) and stoker no longer re-seeds random/numpy/torch per sample: "
                "random transforms then depend on which worker ran a sample (torch's semantics), and a "
                "replaced or added worker is a new worker_id. Exactly-once and resume still hold. "
                "Use stoker.sample_rng() inside __getitem__ to get per-sample randomness back.",
            )

    # -- torch hooks -----------------------------------------------------------------------------

    def check_worker_number_rationality(self) -> None:
        if not self.autoscale:  # the autoscaler stays within the cores it sees
            super().check_worker_number_rationality()

    @property
    def _is_stream(self) -> bool:
        return isinstance(self.dataset, tud.IterableDataset)

    def __iter__(self) -> Any:
        if self._is_stream and _stream_source() is None:
            _warn_once(
                "stream",
                "stoker.DataLoader: stoker.data.streams is not available, so this IterableDataset runs on "
                "torch's own DataLoader iterator: no exactly-once delivery, elastic workers or state_dict.",
            )
            return super().__iter__()
        return self._get_iterator()

    def _get_iterator(self) -> Any:
        if self._is_stream and _stream_source() is None:
            return super()._get_iterator()
        if self.num_workers != 0:
            self.check_worker_number_rationality()
        return _StokerIter(self)

    # -- the stoker Loader behind it ----------------------------------------------------------------

    def _build(self, base_seed: int) -> Loader:
        seed = self.seed
        if self._pending_state is not None:
            seed = self._pending_state["seed"]  # a resumed stream keeps its per-sample seeds
        if seed is None:
            seed = base_seed & ((1 << 63) - 1)
        self._seed_used = seed
        batched = self._auto_collation
        splits = None
        if self._is_stream:
            from_iterable = _stream_source()
            # One virtual shard per torch worker (what get_worker_info() tells the dataset); "auto"
            # fixes as many as the workers it may grow to, so the stream never depends on the count.
            shards = max(1, self.num_workers)
            pipe = from_iterable(self.dataset, num_shards=shards)  # type: ignore[misc]
        else:
            pipe = _map_pipeline(self.dataset)
            identity = SamplerIdentity.of(self.sampler, self.batch_sampler, self.batch_size, self.drop_last)
            splits = SamplerSplits(self._index_sampler, batched, self.split_size, identity)
        if batched:
            # Sampler splits are whole batches; a stream's batches follow batch_size and drop_last.
            pipe = pipe.batch(self.batch_size or 1, drop_last=self.drop_last, collate=self.collate_fn)
        else:
            pipe = pipe.map(self.collate_fn, name=getattr(self.collate_fn, "__name__", "collate_fn"))
        workers = self.num_workers
        pipe = pipe.with_worker_setup(
            WorkerSetup(workers, base_seed, self.worker_init_fn, per_sample_seed=self.worker_init_fn is None)
        )
        options = dict(self.options)
        ctx = self.multiprocessing_context
        if ctx is not None and self.backend == "local":
            options["mp_context"] = (
                ctx.get_start_method() if isinstance(ctx, multiprocessing.context.BaseContext) else ctx
            )
        loader = Loader(
            pipe,
            workers="auto" if self.autoscale else self.num_workers,
            seed=seed,
            deterministic=self.in_order,
            prefetch=max(1, self.prefetch_factor or 2),
            split_size=self.split_size,
            backend=self.backend,
            timeout=self.timeout or None,
            splits=splits,
            start_workers=False,
            continue_after_error=True,
            **options,
        )
        if self._pending_state is not None:
            loader.load_state_dict(self._pending_state)
            self._pending_state = None
        return loader

    @property
    def _fresh_workers_each_epoch(self) -> bool:
        """torch's ``persistent_workers=False``; ``"auto"`` keeps its workers (and what the autoscaler learnt)."""
        return not self.persistent_workers and not self.autoscale and self.num_workers > 0

    def _loader_for_epoch(self, base_seed: int) -> Loader:
        """The stoker Loader for a new epoch: kept when workers persist, else rebuilt as torch does."""
        if self._stoker is None:
            self._stoker = self._build(base_seed)
        elif self._fresh_workers_each_epoch:
            # torch starts fresh workers each epoch, with a new base seed and the dataset as it is now.
            self._stoker.stop_workers()
            setup = self._stoker.pipeline.worker_setup
            self._stoker.pipeline = self._stoker.pipeline.with_worker_setup(replace(setup, base_seed=base_seed))
        return self._stoker

    # -- stoker's extras ----------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Where the stream stands (see :meth:`stoker.Loader.state_dict`), sampler epoch included."""
        if self._consumed_state is not None:
            return self._consumed_state
        if self._stoker is None:
            return dict(self._pending_state) if self._pending_state is not None else {"epoch": -1}
        return self._stoker.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Makes the next ``iter()`` continue the saved stream (same dataset, sampler and batching)."""
        if state.get("epoch", -1) < 0:
            self._pending_state = None
            return
        if self._stoker is not None:
            self._stoker.close()
            self._stoker = None
        self._pending_state = dict(state)

    def stats(self) -> dict[str, Any]:
        """The Loader's throughput and worker figures (empty before the first ``iter()``)."""
        return self._stoker.stats() if self._stoker is not None else {}

    @property
    def pool(self) -> Any:
        """The running worker pool (None in-process, before ``iter()`` and between epochs without
        persistent workers)."""
        return self._stoker.pool if self._stoker is not None else None

    def scale(self, n: int) -> None:
        """Sets the worker count by hand (see :meth:`stoker.Loader.scale`)."""
        if self._stoker is None:
            raise RuntimeError("scale() needs a running epoch: call iter(loader) first")
        self._stoker.scale(n)

    def close(self) -> None:
        """Stops the workers; the next ``iter()`` starts new ones."""
        live = self._live() if self._live is not None else None
        if live is not None:
            live.end()
        if self._stoker is not None:
            self._stoker.close()
            self._stoker = None

    def __enter__(self) -> DataLoader[T_co]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _StokerIter:
    """One epoch of a :class:`DataLoader`, as torch's iterator object (``next``, ``len``).

    Its life cycle is torch's, which Lightning and accelerate rely on: a new ``iter()`` ends this
    one (persistent workers keep running for the new epoch), and so do exhaustion, ``close()`` and
    garbage collection of an iterator dropped mid-epoch; :meth:`end` is the one way out for all.
    """

    def __init__(self, loader: DataLoader[Any]) -> None:
        self._dl = loader
        self._done = False
        previous = loader._live() if loader._live is not None else None
        if previous is not None:
            previous.end(stop_workers=False)  # the new epoch restarts or keeps them, below
        loader._generation += 1
        self._generation = loader._generation
        loader._live = weakref.ref(self)
        loader._consumed_state = None
        # torch warns when an IterableDataset yields more than the len() it reported.
        self._len_reported: int | None = loader._IterableDataset_len_called
        self._yielded = 0
        pin_device = self._pin_device(loader)
        # Drawn before the sampler, from the same generator, as torch's iterator does; persistent
        # workers keep the first epoch's (torch resets its iterator without a new draw).
        if loader.persistent_workers and loader.num_workers != 0 and loader._stoker is not None:
            base_seed = loader._stoker.pipeline.worker_setup.base_seed
        else:
            base_seed = int(torch.empty((), dtype=torch.int64).random_(generator=loader.generator).item())
        self._loader = loader._loader_for_epoch(base_seed)
        self._it: Iterator[Any] = iter(self._loader)
        self._seen: dict[int, Any] = {}  # pid -> worker process, for _workers
        self._pinner: Pinner | None = None
        if pin_device is not None:
            self._pinner = Pinner(self._it, self._restart, self._loader.state_dict, pin_device)

    @staticmethod
    def _pin_device(loader: DataLoader[Any]) -> str | None:
        if not loader.pin_memory:
            return None
        if loader.pin_memory_device:
            warnings.warn(
                "pin_memory_device is deprecated, the current accelerator will be used as the device,"
                f"ignore pin_memory_device='{loader.pin_memory_device}'.",
                stacklevel=3,
            )
        if not torch.accelerator.is_available():
            warnings.warn(
                "'pin_memory' argument is set as true but no accelerator is found, "
                "then device pinned memory won't be used.",
                stacklevel=3,
            )
            return None
        acc = torch.accelerator.current_accelerator()
        return None if acc is None or acc.type == "mps" else acc.type

    def _restart(self) -> Iterator[Any] | None:
        return self._loader.continue_epoch()

    def __iter__(self) -> _StokerIter:
        return self

    def __len__(self) -> int:
        return len(self._dl)

    def __next__(self) -> Any:
        if self._generation != self._dl._generation:
            raise RuntimeError(
                "this DataLoader iterator was superseded by a newer iter() over the same stoker.DataLoader; "
                "stoker runs one epoch at a time per DataLoader"
            )
        if self._done:
            raise StopIteration
        try:
            if self._pinner is not None:
                item, self._dl._consumed_state = self._pinner.next()
            else:
                item = next(self._it)
        except StopIteration:
            self._note_workers()
            self.end()
            raise
        except DataTimeoutError as err:
            # torch's wording (scripts and tests match on it), stoker's detail after it.
            raise DataTimeoutError(f"DataLoader timed out after {self._dl.timeout:g} seconds ({err})") from err
        except Exception:
            self._it = self._loader.continue_epoch()  # torch goes on with the next batch
            raise
        self._yielded += 1
        if self._len_reported is not None and self._yielded > self._len_reported:
            self._warn_past_length()
        return item

    def _warn_past_length(self) -> None:
        message = (
            f"Length of IterableDataset {self._dl.dataset} was reported to be {self._len_reported}"
            f"(when accessing len(dataloader)), but {self._yielded} samples have been fetched. "
        )
        if self._dl.num_workers > 0:
            message += (
                "For multiprocessing data-loading, this could be caused by not properly configuring the "
                "IterableDataset replica at each worker. Please see "
                "https://pytorch.org/docs/stable/data.html#torch.utils.data.IterableDataset for examples."
            )
        warnings.warn(message, stacklevel=3)

    def end(self, stop_workers: bool = True) -> None:
        """Ends this epoch: the pin thread, the Loader's epoch iterator and, without persistent
        workers, the workers (torch's ``_shutdown_workers``). Safe to call again.

        Args:
            stop_workers: False when a new ``iter()`` ends this one: the new epoch decides.
        """
        if self._done:
            return
        self._done = True
        if self._pinner is not None:
            self._pinner.close()
            self._pinner.thread.join(timeout=5.0)
        close = getattr(self._it, "close", None)
        if close is not None:
            # ValueError: the pin thread still waits inside it; the Loader then refuses a new epoch, saying so.
            with contextlib.suppress(ValueError):
                close()  # the Loader then accepts a new epoch
        dl = self._dl
        if dl._live is not None and dl._live() is self:
            dl._live = None
        if stop_workers and dl._fresh_workers_each_epoch and dl._stoker is not None:
            dl._stoker.stop_workers()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # interpreter shutdown: nothing left to stop
            self.end()

    @property
    def _pin_memory_thread(self) -> Any:
        """The pin-memory thread (torch's private name), None when not pinning."""
        return self._pinner.thread if self._pinner is not None else None

    def _note_workers(self) -> None:
        pool = self._loader.pool
        if pool is not None and hasattr(pool, "processes"):
            for proc in pool.processes():
                self._seen.setdefault(proc.pid, proc)

    @property
    def _workers(self) -> list[Any]:
        """The local worker processes this epoch used, in start order (torch's private ``_workers``;
        they stay listed after they exit, as torch's do)."""
        self._note_workers()
        return list(self._seen.values())
