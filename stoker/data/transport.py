"""Moving finished batches from a worker process to the trainer through shared memory.

The worker writes every tensor / numpy array of a result, at any depth and in any object, into
files in ``/dev/shm`` (only the bytes each array views, never the rest of its storage) and sends
only a small skeleton through its pipe: the result pickled with the arrays as persistent
references. Large batch tensors are *collated straight into* such a
file (see :class:`Arena`), so the payload is written once, as ``DataLoader`` does; everything
else is copied into one per-split file (64-byte aligned). The trainer maps each file and unlinks
its name at once, a lent arena file the first time it arrives (so ``/dev/shm`` holds only files
in transit, whichever side dies), and wraps the bytes with
``torch.frombuffer`` / ``numpy.frombuffer``: no copy, no pickling of payloads. A mapping lives as
long as any tensor that views it.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import mmap
import os
import pickle
import sys
import tempfile
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import cloudpickle
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


def size_class(nbytes: int) -> int:
    """Rounds a request up to the next of 2^k, 1.25, 1.5 or 1.75 x 2^k bytes (at least 64 KiB).

    Batches padded to their longest sample change size every step; rounding up lets one file
    serve every size within about 25 % of it instead of one file per exact size.
    """
    n = max(int(nbytes), ARENA_MIN_BYTES)
    top = 1 << (n - 1).bit_length()
    for quarter in (5, 6, 7, 8):
        cls = (top >> 1) * quarter // 4
        if cls >= n:
            return cls
    return top


class Arena:
    """A bounded pool of shared-memory files that batch tensors are stacked into (worker side).

    A fresh 19 MB tmpfs file costs ~20 ms of page faults to fill, a third of the time a worker
    needs to decode the batch that goes in it. So files are lent to the trainer, and when the
    trainer has dropped every tensor that views one it sends the name back (:meth:`give_back`);
    the worker keeps each file mapped and stacks the next batch into it, with no fault at all.

    Any free file at least as large as a request serves it (the smallest such), so batches of
    changing byte size (padding to the longest sample, multi-scale crops) reuse files too. The
    pool never holds more than ``cap`` files: when none fits and the pool is full, the largest
    free file is retired and a larger one made in its place (the pool grows by replacing); when
    every file is lent out, :meth:`empty` returns None and the batch goes through the per-split
    copy file instead. That bounds both ``/dev/shm`` and the trainer's mappings (and with them
    its open descriptors) whatever the trainer holds on to.

    Args:
        prefix: Path prefix of the files.
        cap: Most files this worker owns at once.
    """

    def __init__(self, prefix: str, cap: int = 8) -> None:
        if cap < 1:
            raise ValueError(f"{cap=} should be >= 1 shared-memory file per worker")
        self.prefix = prefix
        self.cap = cap
        self._seq = 0
        self._maps: dict[str, mmap.mmap] = {}  # every file this worker made and has not retired
        self._free: set[str] = set()  # files the trainer gave back (or never got)
        self._lent: set[str] = set()  # files sent to the trainer and not given back
        self._files: dict[int, tuple[str, int]] = {}  # storage data_ptr -> (path, bytes used), not sent yet
        self.forgotten: list[str] = []  # retired since the trainer last heard, so it can unmap them

    def _fit(self, size: int) -> str | None:
        fits = [p for p in self._free if len(self._maps[p]) >= size]
        if fits:
            return min(fits, key=lambda p: len(self._maps[p]))
        if len(self._maps) >= self.cap:
            if not self._free:
                return None  # every file is lent out: the caller falls back to a copy
            self._forget(max(self._free, key=lambda p: len(self._maps[p])))
        self._seq += 1
        path = f"{self.prefix}-a{self._seq}"
        self._maps[path] = _create(path, size_class(size))
        self._free.add(path)
        return path

    def empty(self, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor | None:
        """An uninitialised CPU tensor backed by a pooled shared-memory file (None: pool exhausted)."""
        numel = 1
        for d in shape:
            numel *= d
        size = max(1, numel * torch.empty((), dtype=dtype).element_size())
        path = self._fit(size)
        if path is None:
            return None
        self._free.discard(path)
        t = torch.frombuffer(self._maps[path], dtype=torch.uint8, count=size).view(dtype)[:numel].view(shape)
        self._files[t.untyped_storage().data_ptr()] = (path, size)
        return t

    def take(self, t: torch.Tensor) -> tuple[str, int] | None:
        """If ``t`` is exactly an arena tensor, lend its file out and return (file, bytes of ``t``)."""
        if t.storage_offset() != 0 or not t.is_contiguous():
            return None
        entry = self._files.get(t.untyped_storage().data_ptr())
        if entry is None or t.numel() * t.element_size() != entry[1]:
            return None
        del self._files[t.untyped_storage().data_ptr()]
        self._lent.add(entry[0])
        return entry[0], len(self._maps[entry[0]])

    def give_back(self, paths: Iterable[str]) -> None:
        """The trainer no longer views these files: reuse them."""
        for path in paths:
            if path in self._lent:
                self._lent.discard(path)
                self._free.add(path)

    def _forget(self, path: str) -> None:
        self._maps.pop(path, None)
        self._free.discard(path)
        self._lent.discard(path)
        self.forgotten.append(path)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)

    def release_all(self) -> None:
        """Returns files of tensors that were allocated but never sent (a failed batch) to the pool."""
        for path, _ in self._files.values():
            self._free.add(path)
        self._files.clear()

    def stats(self) -> dict[str, int]:
        """``files`` owned, ``lent`` to the trainer, ``bytes`` mapped."""
        return {"files": len(self._maps), "lent": len(self._lent), "bytes": sum(len(m) for m in self._maps.values())}

    def close(self) -> None:
        """Unlinks every file this worker still names; mappings the trainer holds stay valid.

        Lent files are the trainer's to unlink (it does so when it maps them), so a drained
        worker never deletes a batch the trainer has not read yet.
        """
        for path in list(self._maps):
            if path not in self._lent:
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
    """A result's items as a pickled skeleton plus the shared-memory files holding their arrays."""

    skeleton: bytes
    files: tuple[tuple[str, int], ...] = ()


def _is_leaf(obj: Any) -> bool:
    """Whether ``obj`` travels through shared memory: a strided tensor or a numeric numpy array."""
    if isinstance(obj, torch.Tensor):
        # Nested and sparse tensors have no flat buffer: they pickle (their parts are leaves).
        return not obj.is_nested and obj.layout == torch.strided
    return isinstance(obj, np.ndarray) and obj.dtype.kind in "biufc"


def _as_bytes(arr: Any) -> np.ndarray:
    """The bytes of ``arr``'s elements only: a view of a larger storage copies just the view."""
    if isinstance(arr, torch.Tensor):
        # A uint8 view of the contiguous bytes works for every dtype, bfloat16 included.
        return arr.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy()
    return np.ascontiguousarray(arr).reshape(-1).view(np.uint8)


def _dtype_name(arr: Any) -> str:
    return arr.dtype.str if isinstance(arr, np.ndarray) else str(arr.dtype).removeprefix("torch.")


class _Packer(cloudpickle.Pickler):
    """Pickles a result, taking every array out of the pickle into shared memory.

    ``persistent_id`` sees every object at any depth (dataclasses, custom classes, ``__reduce__``
    output), before torch's own reduction would ship a tensor's whole storage: a 256-byte view of
    a 1 GiB tensor costs 256 bytes. cloudpickle sends classes and functions defined in
    ``__main__`` by value, and the trainer gets back its own class (cloudpickle tracks the
    classes it sent the worker with the pipeline). A worker forked from the trainer (the
    template, or ``fork``) holds the trainer's own ``__main__``, and received no pipeline
    pickle to track: there a class of that module travels by name, which the trainer resolves
    to the same class.
    """

    def __init__(self, file: io.BytesIO, leaf: Callable[[Any], _Ref]) -> None:
        super().__init__(file, protocol=5)
        self._leaf = leaf

    def persistent_id(self, obj: Any) -> _Ref | None:  # type: ignore[override]
        return self._leaf(obj) if _is_leaf(obj) else None

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, type) and _is_forked_main_class(obj):
            return NotImplemented  # pickle's own by-name path: ``__main__.Name``
        return super().reducer_override(obj)


def _is_forked_main_class(cls: type) -> bool:
    """A class this process's real ``__main__`` defines at top level (in a spawned or forkserver
    worker ``__main__`` is a stand-in, so classes that came by value are not found there)."""
    if cls.__module__ != "__main__" or "." in cls.__qualname__:
        return False
    main = sys.modules.get("__main__")
    return main is not None and getattr(main, cls.__qualname__, None) is cls


class _Unpacker(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, leaf: Callable[[_Ref], Any]) -> None:
        super().__init__(file)
        self._leaf = leaf

    def persistent_load(self, pid: Any) -> Any:
        if not isinstance(pid, _Ref):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r} in a stoker payload")
        return self._leaf(pid)


def pack(items: Any, path: str, arena: Arena | None = None) -> Packed:
    """Puts the arrays of ``items`` in shared memory; returns what to send through the pipe.

    Args:
        items: Anything picklable; every strided tensor and numeric numpy array in it, at any
            depth and in any container or object, goes to shared memory (only its own bytes).
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
            nbytes = arr.numel() * arr.element_size()
            return _Ref(slot, False, _dtype_name(arr), tuple(arr.shape), len(files) - 1, 0, nbytes)
        raw = _as_bytes(arr)
        ref = _Ref(slot, isinstance(arr, np.ndarray), _dtype_name(arr), tuple(arr.shape), 0, offset, raw.nbytes)
        copies.append((offset, raw))
        offset += -(-raw.nbytes // _ALIGN) * _ALIGN
        return ref

    buf = io.BytesIO()
    try:
        _Packer(buf, leaf).dump(items)
    except BaseException:
        if arena is not None:  # arena files taken before the failure go back to the pool
            arena.give_back(p for p, _ in files[1:])
        raise
    if copies:
        size = max(offset, 1)
        with _create(path, size) as mm:
            for off, raw in copies:
                mm[off : off + raw.nbytes] = raw.data
        files[0] = (path, size)
    else:
        files[0] = ("", 0)
    return Packed(buf.getvalue(), tuple(files))


_PROT_RW = 0x1 | 0x2  # PROT_READ | PROT_WRITE
_MAP_SHARED = 0x1
_MAP_FAILED = ctypes.c_void_p(-1).value


def _libc() -> Any:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    return libc


try:
    _LIBC: Any = _libc() if sys.platform.startswith("linux") else None
except (OSError, AttributeError):  # no libc to call: fall back to Python's mmap
    _LIBC = None


def map_shared(path: str, size: int, unlink: bool = True) -> Any:
    """Maps ``size`` bytes of ``path`` read-write and shared, keeping no file descriptor open.

    Python 3.11's ``mmap.mmap`` keeps a duplicate descriptor per mapping; a trainer holding a few
    hundred batches would then run out of descriptors at the common ``ulimit -n 1024``. So on Linux
    the file is mapped with libc's ``mmap`` and its descriptor closed at once; the returned ctypes
    byte array unmaps itself when the last buffer viewing it is gone.

    Args:
        path: The file.
        size: Bytes to map (the file's size).
        unlink: Remove the file's name once mapped (the memory lives while mapped).

    Returns:
        A writable object with the buffer protocol and ``len() == size``.
    """
    fd = os.open(path, os.O_RDWR)
    try:
        if _LIBC is None:
            return mmap.mmap(fd, size)
        addr = _LIBC.mmap(None, size, _PROT_RW, _MAP_SHARED, fd, 0)
        if addr is None or addr == _MAP_FAILED:
            err = ctypes.get_errno()
            raise OSError(err, f"mmap of {path} ({size} bytes) failed: {os.strerror(err)}")
        buf = (ctypes.c_ubyte * size).from_address(addr)
        weakref.finalize(buf, _LIBC.munmap, addr, size)
        return buf
    finally:
        os.close(fd)
        if unlink:
            os.unlink(path)


def _map(path: str, size: int) -> Any:
    return map_shared(path, size)


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

    return _Unpacker(io.BytesIO(packed.skeleton), leaf).load()


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
        return torch.stack(batch, 0) if out is None else torch.stack(batch, 0, out=out)

    fmap = {**default_collate_fn_map, torch.Tensor: tensor_fn}

    def collate_fn(batch: list[Any]) -> Any:
        return collate(batch, collate_fn_map=fmap)

    collate_fn.__name__ = "collate"
    return collate_fn
