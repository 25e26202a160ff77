"""Moving finished batches from a worker process to the trainer through shared memory.

The worker writes every tensor / numpy array of a result into files in ``/dev/shm`` and sends
only a small skeleton through its pipe. Large batch tensors are *collated straight into* such a
file (see :class:`Arena`), so the payload is written once, as ``DataLoader`` does; everything
else is copied into one per-split file (64-byte aligned). The trainer maps each file, unlinks its
name at once (nothing leaks if either side dies later) and wraps the bytes with
``torch.frombuffer`` / ``numpy.frombuffer``: no copy, no pickling of payloads. A mapping lives as
long as any tensor that views it.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

_ALIGN = 64
ARENA_MIN_BYTES = 1 << 16  # smaller tensors are cheaper to copy than to give a file of their own


def shm_dir() -> str:
    """Where payload files go: tmpfs on Linux, else the temp dir (still correct, just slower)."""
    return "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()


def _create(path: str, size: int) -> mmap.mmap:
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    try:
        os.ftruncate(fd, size)
        return mmap.mmap(fd, size)
    finally:
        os.close(fd)


class Arena:
    """Hands out tensors that live in shared-memory files, and reuses those files (worker side).

    A fresh 19 MB tmpfs file costs ~20 ms of page faults to fill, a third of the time a worker
    needs to decode the batch that goes in it. So files are lent to the trainer, and when the
    trainer has dropped every tensor that views one it sends the name back (:meth:`give_back`);
    the worker keeps each file mapped and stacks the next batch of the same size into it, with no
    fault at all.

    Args:
        prefix: Path prefix of the files.
        keep: Free files kept for reuse; more are unlinked.
    """

    def __init__(self, prefix: str, keep: int = 8) -> None:
        self.prefix = prefix
        self.keep = keep
        self._seq = 0
        self._maps: dict[str, mmap.mmap] = {}  # every file this worker made and has not unlinked
        self._free: dict[int, list[str]] = {}  # size -> files the trainer gave back
        self._files: dict[int, tuple[str, int]] = {}  # storage data_ptr -> (path, size), not sent yet
        self.forgotten: list[str] = []  # unlinked since the trainer last heard, so it can unmap them

    def empty(self, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
        """An uninitialised CPU tensor backed by a (reused or new) shared-memory file."""
        numel = 1
        for d in shape:
            numel *= d
        size = max(1, numel * torch.empty((), dtype=dtype).element_size())
        free = self._free.get(size)
        if free:
            path = free.pop()
        else:
            self._seq += 1
            path = f"{self.prefix}-a{self._seq}"
            self._maps[path] = _create(path, size)
        t = torch.frombuffer(self._maps[path], dtype=torch.uint8, count=size).view(dtype)[:numel].view(shape)
        self._files[t.untyped_storage().data_ptr()] = (path, size)
        return t

    def take(self, t: torch.Tensor) -> tuple[str, int] | None:
        """If ``t`` is exactly an arena tensor, lend its file out and return (file, size)."""
        if t.storage_offset() != 0 or not t.is_contiguous():
            return None
        entry = self._files.get(t.untyped_storage().data_ptr())
        if entry is None or t.numel() * t.element_size() != entry[1]:
            return None
        del self._files[t.untyped_storage().data_ptr()]
        return entry

    def give_back(self, paths: list[str]) -> None:
        """The trainer no longer views these files: reuse them."""
        for path in paths:
            mm = self._maps.get(path)
            if mm is None:
                continue
            pool = self._free.setdefault(len(mm), [])
            if len(pool) < self.keep:
                pool.append(path)
            else:
                self._forget(path)

    def _forget(self, path: str) -> None:
        self._maps.pop(path, None)
        self.forgotten.append(path)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)

    def release_all(self) -> None:
        """Returns files of tensors that were allocated but never sent (a failed batch) to the pool."""
        for path, size in self._files.values():
            self._free.setdefault(size, []).append(path)
        self._files.clear()

    def close(self) -> None:
        """Unlinks every file; mappings the trainer still holds stay valid."""
        for path in list(self._maps):
            self._forget(path)
        self._free.clear()


@dataclass(frozen=True)
class _Ref:
    """Placeholder for an array in the skeleton: file number, offset and layout."""

    slot: int
    is_numpy: bool
    dtype: str
    shape: tuple[int, ...]
    file: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class Packed:
    """A result's items as a skeleton plus the shared-memory files holding their arrays."""

    skeleton: Any
    files: tuple[tuple[str, int], ...] = ()


def _walk(obj: Any, leaf: Any) -> Any:
    """Rebuilds ``obj`` with ``leaf(x)`` applied to every tensor / numeric array / _Ref."""
    if isinstance(obj, torch.Tensor) and (obj.is_nested or obj.layout != torch.strided):
        return obj  # nested and sparse tensors have no flat buffer: they travel pickled in the skeleton
    if isinstance(obj, (torch.Tensor, _Ref)) or (isinstance(obj, np.ndarray) and obj.dtype.kind in "biufc"):
        return leaf(obj)
    if isinstance(obj, list):
        return [_walk(x, leaf) for x in obj]
    if isinstance(obj, tuple):
        items = [_walk(x, leaf) for x in obj]
        return type(obj)(*items) if hasattr(obj, "_fields") else tuple(items)
    if isinstance(obj, dict):
        return type(obj)((k, _walk(v, leaf)) for k, v in obj.items())
    return obj


def _as_bytes(arr: Any) -> np.ndarray:
    if isinstance(arr, torch.Tensor):
        # A uint8 view of the contiguous bytes works for every dtype, bfloat16 included.
        return arr.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy()
    return np.ascontiguousarray(arr).reshape(-1).view(np.uint8)


def _dtype_name(arr: Any) -> str:
    return arr.dtype.str if isinstance(arr, np.ndarray) else str(arr.dtype).removeprefix("torch.")


def pack(items: Any, path: str, arena: Arena | None = None) -> Packed:
    """Puts the arrays of ``items`` in shared memory; returns what to send through the pipe.

    Args:
        items: Any nesting of lists, tuples, dicts, tensors and numpy arrays.
        path: A new file name (in :func:`shm_dir`) for the arrays that are not arena tensors.
        arena: The worker's arena; its tensors are referenced, not copied.
    """
    files: list[tuple[str, int]] = [(path, 0)]  # file 0: the per-split copy file
    copies: list[tuple[int, np.ndarray]] = []
    offset = 0

    def leaf(arr: Any) -> _Ref:
        nonlocal offset
        slot = len(copies) + len(files)
        if arena is not None and isinstance(arr, torch.Tensor) and (entry := arena.take(arr)) is not None:
            files.append(entry)
            return _Ref(slot, False, _dtype_name(arr), tuple(arr.shape), len(files) - 1, 0, entry[1])
        raw = _as_bytes(arr)
        ref = _Ref(slot, isinstance(arr, np.ndarray), _dtype_name(arr), tuple(arr.shape), 0, offset, raw.nbytes)
        copies.append((offset, raw))
        offset += -(-raw.nbytes // _ALIGN) * _ALIGN
        return ref

    skeleton = _walk(items, leaf)
    if copies:
        size = max(offset, 1)
        with _create(path, size) as mm:
            for off, raw in copies:
                mm[off : off + raw.nbytes] = raw.data
        files[0] = (path, size)
    else:
        files[0] = ("", 0)
    return Packed(skeleton, tuple(files))


def _map(path: str, size: int) -> mmap.mmap:
    fd = os.open(path, os.O_RDWR)
    try:
        return mmap.mmap(fd, size)
    finally:
        os.close(fd)
        os.unlink(path)


def unpack(packed: Packed, lent: Callable[[str, int], Any] | None = None) -> Any:
    """Maps the payload files and rebuilds the items with zero-copy tensors.

    Args:
        packed: What the worker sent.
        lent: Maps a lent arena file (every file but the first) to a buffer and arranges for
            its return; default: map it and unlink it at once, like the per-split file.
    """
    maps: list[Any] = []
    for i, (path, size) in enumerate(packed.files):
        if not path:
            maps.append(None)
        elif i > 0 and lent is not None:
            maps.append(lent(path, size))
        else:
            maps.append(_map(path, size))

    def leaf(ref: _Ref) -> Any:
        mm = maps[ref.file]
        if ref.is_numpy:
            dt = np.dtype(ref.dtype)
            return np.frombuffer(mm, dtype=dt, count=ref.nbytes // dt.itemsize, offset=ref.offset).reshape(ref.shape)  # type: ignore[call-overload,arg-type]
        dtype = getattr(torch, ref.dtype)
        if ref.nbytes == 0:
            return torch.empty(ref.shape, dtype=dtype)
        raw = torch.frombuffer(mm, dtype=torch.uint8, count=ref.nbytes, offset=ref.offset)  # type: ignore[arg-type]
        return raw.view(dtype).view(ref.shape)

    return _walk(packed.skeleton, leaf)


def discard(packed: Packed) -> None:
    """Removes the payload files of a result that will not be used."""
    for path, _ in packed.files:
        if path:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


def arena_collate(arena: Arena) -> Any:
    """``default_collate`` that stacks large tensors straight into arena files.

    Uses torch's collate with a custom map for tensors (the same hook ``DataLoader`` workers use
    to stack into shared memory), so every other type collates exactly as ``default_collate``.
    """
    from torch.utils.data._utils.collate import collate, collate_tensor_fn, default_collate_fn_map

    def tensor_fn(batch: list[torch.Tensor], *, collate_fn_map: Any = None) -> torch.Tensor:
        elem = batch[0]
        if elem.is_nested or elem.layout != torch.strided:
            return collate_tensor_fn(batch)  # torch's own behaviour and error message for these
        nbytes = elem.numel() * elem.element_size() * len(batch)
        if elem.layout != torch.strided or elem.device.type != "cpu" or elem.is_nested or nbytes < ARENA_MIN_BYTES:
            return torch.stack(batch, 0)
        out = arena.empty((len(batch), *elem.shape), elem.dtype)
        return torch.stack(batch, 0, out=out)

    fmap = {**default_collate_fn_map, torch.Tensor: tensor_fn}

    def collate_fn(batch: list[Any]) -> Any:
        return collate(batch, collate_fn_map=fmap)

    collate_fn.__name__ = "collate"
    return collate_fn
