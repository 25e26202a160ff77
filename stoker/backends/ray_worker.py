"""The data worker that runs inside a Ray actor, and the wire form of its results.

A plain class: the Ray pool wraps it with ``ray.remote`` when it starts actors, so this module
imports no Ray and the unit tier can run it in-process. Torch tensors leave the worker as numpy
arrays, because Ray stores numpy arrays out of band in its object store and the trainer's
``ray.get`` then maps them without a copy; the trainer wraps them back into tensors
(:func:`from_wire`), still without a copy. A tensor inside any other object (a dataclass, a
custom class) travels the same way: the object is pickled with its tensors boxed out of band
(:class:`BoxedObject`), so a small view of a large tensor sends only its own bytes.
"""

from __future__ import annotations

import io
import os
import pickle
import traceback
import warnings
from dataclasses import dataclass, replace
from typing import Any

import cloudpickle
import numpy as np
import torch

from stoker.data.executor import Executor, SplitFailure, SplitResult
from stoker.data.heap import freeze_inherited
from stoker.data.splits import Split
from stoker.data.worker_setup import apply_setup

# Tensor dtypes numpy has no type for travel as same-width integers and are viewed back.
_CARRIER = {torch.bfloat16: torch.int16, torch.float8_e4m3fn: torch.uint8, torch.float8_e5m2: torch.uint8}


@dataclass(frozen=True)
class TensorBox:
    """A torch tensor in transit: its bytes as a numpy array plus the tensor dtype."""

    array: np.ndarray
    dtype: str


@dataclass(frozen=True)
class BoxedObject:
    """An object of any other type in transit: pickled, each tensor in it (at any depth) boxed."""

    skeleton: bytes
    boxes: tuple[TensorBox, ...]


@dataclass(frozen=True)
class NotLoaded:
    """The worker could not load the pipeline; the message holds the worker's traceback."""

    message: str


def _box(t: torch.Tensor) -> TensorBox | torch.Tensor:
    if t.is_nested or t.layout != torch.strided:
        return t  # no flat buffer to box: Ray pickles it as is
    return _box_strided(t)


def _box_strided(t: torch.Tensor) -> TensorBox:
    t = t.detach().cpu().contiguous()  # only the view's elements: never the rest of its storage
    carrier = _CARRIER.get(t.dtype)
    arr = (t.view(carrier) if carrier is not None else t).numpy()
    return TensorBox(arr, str(t.dtype).removeprefix("torch."))


def _unbox(box: TensorBox) -> torch.Tensor:
    with warnings.catch_warnings():
        # Arrays from the object store are read-only; torch has no read-only tensors and warns.
        # Writing into such a tensor writes into Ray's shared memory: clone() before in-place ops.
        warnings.simplefilter("ignore", UserWarning)
        t = torch.from_numpy(box.array)
    dtype = getattr(torch, box.dtype)
    return t.view(dtype) if t.dtype != dtype else t


class _Boxer(cloudpickle.Pickler):
    """Pickles an object with its strided tensors taken out as :class:`TensorBox` es."""

    def __init__(self, file: io.BytesIO) -> None:
        super().__init__(file, protocol=5)
        self.boxes: list[TensorBox] = []

    def persistent_id(self, obj: Any) -> int | None:  # type: ignore[override]
        if isinstance(obj, torch.Tensor) and not obj.is_nested and obj.layout == torch.strided:
            self.boxes.append(_box_strided(obj))
            return len(self.boxes) - 1
        return None


class _Unboxer(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, boxes: tuple[TensorBox, ...]) -> None:
        super().__init__(file)
        self.boxes = boxes

    def persistent_load(self, pid: Any) -> torch.Tensor:
        return _unbox(self.boxes[pid])


_PLAIN = (str, bytes, int, float, complex, bool, type(None), np.ndarray, np.generic, torch.Tensor)


def _box_object(obj: Any) -> Any:
    """``obj`` as a :class:`BoxedObject` when it holds tensors (else as is: Ray pickles it)."""
    if isinstance(obj, _PLAIN):
        return obj
    buf = io.BytesIO()
    boxer = _Boxer(buf)
    boxer.dump(obj)
    return BoxedObject(buf.getvalue(), tuple(boxer.boxes)) if boxer.boxes else obj


def _unwire(obj: TensorBox | BoxedObject) -> Any:
    if isinstance(obj, TensorBox):
        return _unbox(obj)
    return _Unboxer(io.BytesIO(obj.skeleton), obj.boxes).load()


def _map(obj: Any, leaf: Any, kind: type | tuple[type, ...], other: Any = None) -> Any:
    if isinstance(obj, kind):
        return leaf(obj)
    if isinstance(obj, list):
        return [_map(x, leaf, kind, other) for x in obj]
    if isinstance(obj, tuple):
        items = [_map(x, leaf, kind, other) for x in obj]
        return type(obj)(*items) if hasattr(obj, "_fields") else tuple(items)
    if isinstance(obj, dict):
        return type(obj)((k, _map(v, leaf, kind, other)) for k, v in obj.items())
    return obj if other is None else other(obj)


def to_wire(items: Any) -> Any:
    """Replaces every torch tensor in a nesting of lists, tuples and dicts by a :class:`TensorBox`,
    and every other object that holds tensors by a :class:`BoxedObject`."""
    return _map(items, _box, torch.Tensor, _box_object)


def from_wire(items: Any) -> Any:
    """Inverse of :func:`to_wire`; the tensors view the arrays' memory (no copy)."""
    return _map(items, _unwire, (TensorBox, BoxedObject))


class DataWorker:
    """Runs splits of one pipeline; one instance per Ray actor.

    Never raises from ``__init__``: an error loading the pipeline (a module missing on this
    node, a version mismatch) is kept and reported by :meth:`hello`, so the trainer gets the
    worker's traceback instead of Ray's generic actor-died error.

    Args:
        pipeline_bytes: The cloudpickled pipeline.
        seed: Per-sample RNG seed.
        on_error: ``"raise"`` or ``"skip"``.
        threads: Torch intra-op threads (the CPUs the actor reserved).
        worker_id: The worker's number in its pool (``get_worker_info().id``).
    """

    def __init__(self, pipeline_bytes: bytes, seed: int, on_error: str, threads: int = 1, worker_id: int = 0) -> None:
        # Parallelism comes from workers; more threads than reserved CPUs would only thrash.
        torch.set_num_threads(max(1, threads))
        self._executor: Executor | None = None
        self._error: str | None = None
        try:
            import cloudpickle

            pipeline = cloudpickle.loads(pipeline_bytes)
            # BaseException: a SystemExit or KeyboardInterrupt from user code becomes a record
            # with its type, instead of ending the actor (which would read as a lost worker).
            self._executor = Executor(pipeline, seed, on_error, catch=BaseException)
            apply_setup(pipeline, worker_id)
            freeze_inherited()  # Ray's and torch's modules and the pipeline: no full collection walks them
        except BaseException:
            self._error = f"the Ray data worker could not load the pipeline:\n{traceback.format_exc()}"

    def hello(self) -> dict[str, Any]:
        """Where this worker runs: ``node_id``, ``pid``, ``host``, and ``error`` (None when ready)."""
        node_id = ""
        try:
            import ray

            node_id = ray.get_runtime_context().get_node_id()
        except Exception:  # outside Ray (unit tests): no node
            pass
        return {"node_id": node_id, "pid": os.getpid(), "host": os.uname().nodename, "error": self._error}

    def run(self, split: Split) -> SplitResult | SplitFailure | NotLoaded:
        """Runs one split; tensors in the result are boxed for zero-copy transport."""
        if self._executor is None:
            return NotLoaded(self._error or "the Ray data worker has no pipeline")
        out = self._executor.run(split)
        if isinstance(out, SplitResult):
            out = replace(out, items=to_wire(out.items))
        return out
