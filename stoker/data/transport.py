"""Moving finished batches from a worker process to the trainer through shared memory.

The worker flattens a result's items, writes every tensor / numpy array into one file in
``/dev/shm`` (64-byte aligned) and sends only a small skeleton through the pipe. The trainer maps
the file, unlinks its name at once (so nothing leaks if either side dies later) and wraps the
bytes with ``torch.frombuffer`` / ``numpy.frombuffer``: no copy, no pickling of payloads. The
mapping lives as long as any tensor that views it.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import tempfile
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

_ALIGN = 64


def shm_dir() -> str:
    """Where payload files go: tmpfs on Linux, else the temp dir (still correct, just slower)."""
    return "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()


@dataclass(frozen=True)
class _Ref:
    """Placeholder for an array in the skeleton."""

    slot: int
    is_numpy: bool
    dtype: str
    shape: tuple[int, ...]
    offset: int
    nbytes: int


@dataclass(frozen=True)
class Packed:
    """A result's items as a skeleton plus the shared-memory file holding their arrays."""

    skeleton: Any
    path: str | None
    size: int


def _flatten(obj: Any, arrays: list[Any]) -> Any:
    if isinstance(obj, torch.Tensor):
        arrays.append(obj)
        return _Ref(len(arrays) - 1, False, "", (), 0, 0)
    if isinstance(obj, np.ndarray) and obj.dtype.kind in "biufc":
        arrays.append(obj)
        return _Ref(len(arrays) - 1, True, "", (), 0, 0)
    if isinstance(obj, list):
        return [_flatten(x, arrays) for x in obj]
    if isinstance(obj, tuple):
        items = [_flatten(x, arrays) for x in obj]
        return type(obj)(*items) if hasattr(obj, "_fields") else tuple(items)
    if isinstance(obj, dict):
        return type(obj)((k, _flatten(v, arrays)) for k, v in obj.items())
    return obj


def _fill(obj: Any, refs: dict[int, _Ref]) -> Any:
    if isinstance(obj, _Ref):
        return refs[obj.slot]
    if isinstance(obj, list):
        return [_fill(x, refs) for x in obj]
    if isinstance(obj, tuple):
        items = [_fill(x, refs) for x in obj]
        return type(obj)(*items) if hasattr(obj, "_fields") else tuple(items)
    if isinstance(obj, dict):
        return type(obj)((k, _fill(v, refs)) for k, v in obj.items())
    return obj


def _as_bytes(arr: Any) -> np.ndarray:
    if isinstance(arr, torch.Tensor):
        # A uint8 view of the contiguous bytes works for every dtype, bfloat16 included.
        return arr.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy()
    return np.ascontiguousarray(arr).reshape(-1).view(np.uint8)


def pack(items: Any, path: str) -> Packed:
    """Writes the arrays of ``items`` to a new shared-memory file at ``path``.

    Args:
        items: Any nesting of lists, tuples, dicts, tensors and numpy arrays.
        path: A file name that does not exist yet (in :func:`shm_dir`).

    Returns:
        The skeleton to send through the pipe; ``path`` is None when there were no arrays.
    """
    arrays: list[Any] = []
    skeleton = _flatten(items, arrays)
    if not arrays:
        return Packed(skeleton, None, 0)
    refs: dict[int, _Ref] = {}
    offset = 0
    views = []
    for slot, arr in enumerate(arrays):
        raw = _as_bytes(arr)
        is_np = isinstance(arr, np.ndarray)
        dtype = arr.dtype.str if is_np else str(arr.dtype).removeprefix("torch.")
        refs[slot] = _Ref(slot, is_np, dtype, tuple(arr.shape), offset, raw.nbytes)
        views.append((offset, raw))
        offset += -(-raw.nbytes // _ALIGN) * _ALIGN
    size = max(offset, 1)
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    try:
        os.ftruncate(fd, size)
        with mmap.mmap(fd, size) as mm:
            for off, raw in views:
                mm[off : off + raw.nbytes] = raw.data
    finally:
        os.close(fd)
    return Packed(_fill_refs(skeleton, refs), path, size)


def _fill_refs(skeleton: Any, refs: dict[int, _Ref]) -> Any:
    return _fill(skeleton, refs)


def unpack(packed: Packed) -> Any:
    """Maps the payload file, unlinks it, and rebuilds the items with zero-copy tensors."""
    if packed.path is None:
        return packed.skeleton
    fd = os.open(packed.path, os.O_RDWR)
    try:
        mm = mmap.mmap(fd, packed.size)
    finally:
        os.close(fd)
        os.unlink(packed.path)
    arrays: dict[int, Any] = {}
    _collect(packed.skeleton, mm, arrays)
    return _fill(packed.skeleton, arrays)


def _collect(obj: Any, mm: mmap.mmap, out: dict[int, Any]) -> None:
    if isinstance(obj, _Ref):
        out[obj.slot] = _view(obj, mm)
    elif isinstance(obj, (list, tuple)):
        for x in obj:
            _collect(x, mm, out)
    elif isinstance(obj, dict):
        for x in obj.values():
            _collect(x, mm, out)


def _view(ref: _Ref, mm: mmap.mmap) -> Any:
    if ref.is_numpy:
        return np.frombuffer(
            mm, dtype=np.dtype(ref.dtype), count=ref.nbytes // np.dtype(ref.dtype).itemsize, offset=ref.offset
        ).reshape(ref.shape)
    dtype = getattr(torch, ref.dtype)
    if ref.nbytes == 0:
        return torch.empty(ref.shape, dtype=dtype)
    raw = torch.frombuffer(mm, dtype=torch.uint8, count=ref.nbytes, offset=ref.offset)
    return raw.view(dtype).view(ref.shape)


def discard(packed: Packed) -> None:
    """Removes the payload file of a duplicate result without mapping it."""
    if packed.path is not None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(packed.path)
