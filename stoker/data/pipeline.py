"""The data part of a training program as a small chain of operators.

A :class:`Pipeline` is a source (a sequence of samples addressed by index) followed by
per-sample operators (``map``, ``filter``), at most one ``shuffle`` (a permutation of the index
space per epoch) and at most one ``batch``; operators after ``batch`` act on whole batches.
Pipelines are immutable: every method returns a new pipeline, so one pipeline can feed several
Loaders. Nothing runs until a :class:`stoker.Loader` iterates it.
"""

from __future__ import annotations

import glob as globlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from torch.utils.data import default_collate


@dataclass(frozen=True)
class Source:
    """Where samples come from: ``get(i)`` for ``0 <= i < len``.

    Attributes:
        kind: ``"items"``, ``"files"``, ``"dataset"`` or ``"stream"``.
        data: The sequence (items, file paths), the map-style dataset, or a
            :class:`~stoker.data.streams.StreamSource` (no ``get``; see :mod:`stoker.data.streams`).
        name: A short label for plans and stats.
    """

    kind: str
    data: Any
    name: str

    def __len__(self) -> int:
        return len(self.data)

    def get(self, index: int) -> Any:
        return self.data[index]

    def file_of(self, index: int) -> str | None:
        """The file a sample comes from, for error messages (None when there is none)."""
        if self.kind == "files":
            return str(self.data[index])
        files = getattr(self.data, "files", None) or getattr(self.data, "samples", None)
        if isinstance(files, Sequence) and 0 <= index < len(files):
            entry = files[index]
            return str(entry[0] if isinstance(entry, tuple) else entry)
        return None


@dataclass(frozen=True)
class Op:
    """One operator of a pipeline.

    Attributes:
        kind: ``"map"``, ``"filter"``, ``"shuffle"`` or ``"batch"``.
        fn: The user function (map, filter) or collate function (batch).
        name: Label used in stats and plans (defaults to the function's name).
        args: Operator arguments (``seed`` for shuffle; ``size``, ``drop_last`` for batch).
    """

    kind: str
    fn: Callable[..., Any] | None = None
    name: str = ""
    args: dict[str, Any] = field(default_factory=dict)


def _fn_name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__name__", None) or type(fn).__name__


@dataclass(frozen=True)
class Pipeline:
    """A source and its operators; build with :func:`from_items`, :func:`from_files`, :func:`from_dataset`."""

    source: Source
    ops: tuple[Op, ...] = ()
    worker_setup: Any = None  # a stoker.data.worker_setup.WorkerSetup, run as each worker starts

    def _with(self, op: Op) -> Pipeline:
        return Pipeline(self.source, (*self.ops, op), self.worker_setup)

    def with_worker_setup(self, setup: Any) -> Pipeline:
        """The same pipeline, with ``setup`` run in every worker process as it starts (not in-process)."""
        return Pipeline(self.source, self.ops, setup)

    def map(self, fn: Callable[[Any], Any], name: str | None = None) -> Pipeline:
        """Applies ``fn`` to each sample (or each batch, after :meth:`batch`).

        Random choices inside ``fn`` should come from :func:`stoker.sample_rng` or
        :func:`stoker.sample_generator` (or the global ``random``/``numpy``/``torch`` RNGs, which
        stoker seeds per sample), so the stream does not depend on which worker ran the sample.
        """
        if not callable(fn):
            raise TypeError(f"map() takes a callable, got {fn!r} of type {type(fn).__name__}")
        return self._with(Op("map", fn, name or _fn_name(fn)))

    def filter(self, fn: Callable[[Any], bool], name: str | None = None) -> Pipeline:
        """Keeps the samples for which ``fn`` is true; a dropped sample leaves its batch one shorter."""
        if not callable(fn):
            raise TypeError(f"filter() takes a callable, got {fn!r} of type {type(fn).__name__}")
        return self._with(Op("filter", fn, name or _fn_name(fn)))

    def shuffle(self, seed: int | None = None) -> Pipeline:
        """Shuffles the sample order each epoch with a permutation drawn from ``(seed, epoch)``.

        Args:
            seed: Shuffle seed; ``None`` uses the Loader's seed.
        """
        if any(op.kind == "shuffle" for op in self.ops):
            raise ValueError("shuffle() given twice; a pipeline shuffles its index space once per epoch")
        if any(op.kind == "batch" for op in self.ops):
            raise ValueError("shuffle() after batch() is not supported; shuffle before batching")
        if seed is not None and not isinstance(seed, int):
            raise TypeError(f"shuffle(seed={seed!r}) should be an int or None")
        return self._with(Op("shuffle", None, "shuffle", {"seed": seed}))

    def batch(self, size: int, drop_last: bool = False, collate: Callable[[list[Any]], Any] | None = None) -> Pipeline:
        """Groups consecutive samples into batches of ``size`` and collates them.

        Args:
            size: Samples per batch (>= 1).
            drop_last: Drop the last, incomplete batch of an epoch.
            collate: Turns a list of samples into a batch; default
                ``torch.utils.data.default_collate``.
        """
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"batch(size={size!r}) should be a positive int")
        if any(op.kind == "batch" for op in self.ops):
            raise ValueError("batch() given twice; batch once and map over batches afterwards")
        fn = collate or default_collate
        return self._with(Op("batch", fn, "collate", {"size": size, "drop_last": bool(drop_last)}))

    # -- introspection used by the Loader and the planner -------------------------------------

    @property
    def batch_op(self) -> Op | None:
        return next((op for op in self.ops if op.kind == "batch"), None)

    @property
    def shuffle_op(self) -> Op | None:
        return next((op for op in self.ops if op.kind == "shuffle"), None)

    def sample_ops(self) -> list[Op]:
        """The per-sample map/filter operators (those before ``batch``)."""
        out: list[Op] = []
        for op in self.ops:
            if op.kind == "batch":
                break
            if op.kind in ("map", "filter"):
                out.append(op)
        return out

    def batch_ops(self) -> list[Op]:
        """The map/filter operators applied to whole batches (after ``batch``)."""
        seen = False
        out: list[Op] = []
        for op in self.ops:
            if op.kind == "batch":
                seen = True
            elif seen:
                out.append(op)
        return out

    def __len__(self) -> int:
        return len(self.source)

    def __repr__(self) -> str:
        chain = "".join(f".{op.kind}({op.name})" for op in self.ops)
        return f"{self.source.name}{chain}"


def from_items(items: Sequence[Any]) -> Pipeline:
    """A pipeline over an in-memory sequence (list, tuple, numpy array, tensor)."""
    if not hasattr(items, "__len__") or not hasattr(items, "__getitem__"):
        raise TypeError(f"from_items() takes a sequence with len() and indexing, got {type(items).__name__}")
    return Pipeline(Source("items", items, f"items[{len(items)}]"))


def from_files(pattern: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> Pipeline:
    """A pipeline over file paths: a glob pattern (``"imgs/**/*.jpg"``) or a list of paths.

    Samples are the paths as ``str``, sorted so every process sees the same order; decode them
    with a ``map`` (e.g. :func:`stoker.io.read_image`).
    """
    if isinstance(pattern, (str, os.PathLike)):
        text = os.fspath(pattern)
        paths = sorted(globlib.glob(text, recursive=True))
        if not paths:
            raise FileNotFoundError(f"from_files({text!r}): no files match; check the path and the pattern")
        label = text
    else:
        paths = [os.fspath(p) for p in pattern]
        if not paths:
            raise ValueError("from_files([]) got an empty list of paths")
        label = f"files[{len(paths)}]"
    return Pipeline(Source("files", tuple(paths), label))


def from_dataset(dataset: Any) -> Pipeline:
    """A pipeline over a map-style ``torch.utils.data.Dataset`` (anything with ``__len__``/``__getitem__``)."""
    from torch.utils.data import IterableDataset

    if isinstance(dataset, IterableDataset):
        raise TypeError(
            f"from_dataset() needs a map-style dataset (indexable), got the IterableDataset "
            f"{type(dataset).__name__}; use stoker.from_iterable(dataset, num_shards=K) for streams"
        )
    if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
        raise TypeError(f"from_dataset() needs __len__ and __getitem__, got {type(dataset).__name__}")
    return Pipeline(Source("dataset", dataset, type(dataset).__name__))
