"""One file per cached sample, in shared memory (``/dev/shm``) or on local disk.

Writes go to a temporary name and are renamed into place, so a worker killed mid-write leaves no
half entry: every entry any process sees is complete, and entries written by a worker that died
later are still good for its replacement and for a resumed run. Arrays and tensors travel out of
band (pickle protocol 5), so reading an entry back is one ``readinto`` and no copy of the
payload; each read gets its own buffer, so a function that writes into its input cannot spoil
the cache.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import shutil
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

_HEAD = struct.Struct("<4sIQ")  # magic, buffer count, pickle length
_MAGIC = b"STK1"
_ALIGN = 64
MISS = object()


@dataclass(frozen=True)
class _Tensor:
    """A CPU tensor carried as a numpy array (out of band), rebuilt with ``torch.from_numpy``."""

    array: np.ndarray


@dataclass(frozen=True)
class _Image:
    """A PIL image of a plain mode carried as its pixel array."""

    mode: str
    array: np.ndarray


_PLAIN_MODES = frozenset({"L", "RGB", "RGBA", "I", "F"})


def _to_wire(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor) and obj.device.type == "cpu" and not obj.requires_grad:
        try:
            return _Tensor(obj.contiguous().numpy())
        except TypeError:  # a dtype numpy lacks (bfloat16): torch's own pickling
            return obj
    if hasattr(obj, "getbands") and getattr(obj, "mode", None) in _PLAIN_MODES:
        return _Image(obj.mode, np.asarray(obj))
    if isinstance(obj, list):
        return [_to_wire(x) for x in obj]
    if isinstance(obj, tuple) and not hasattr(obj, "_fields"):
        return tuple(_to_wire(x) for x in obj)
    if isinstance(obj, dict) and type(obj) is dict:
        return {k: _to_wire(v) for k, v in obj.items()}
    return obj


def _from_wire(obj: Any) -> Any:
    if isinstance(obj, _Tensor):
        return torch.from_numpy(obj.array)
    if isinstance(obj, _Image):
        from PIL import Image

        img = Image.fromarray(obj.array)
        return img if img.mode == obj.mode else img.convert(obj.mode)
    if isinstance(obj, list):
        return [_from_wire(x) for x in obj]
    if isinstance(obj, tuple):
        return tuple(_from_wire(x) for x in obj)
    if isinstance(obj, dict) and type(obj) is dict:
        return {k: _from_wire(v) for k, v in obj.items()}
    return obj


def encode(value: Any) -> list[bytes | memoryview]:
    """The pieces of one entry: header, buffer lengths, pickle, buffers."""
    bufs: list[pickle.PickleBuffer] = []
    body = pickle.dumps(_to_wire(value), protocol=5, buffer_callback=bufs.append)
    raws = [b.raw() for b in bufs]
    lens = struct.pack(f"<{len(raws)}Q", *(r.nbytes for r in raws))
    pieces: list[bytes | memoryview] = [_HEAD.pack(_MAGIC, len(raws), len(body)), lens, body]
    pos = _HEAD.size + len(lens) + len(body)
    for raw in raws:
        # Every buffer starts 64-byte aligned, so the arrays read back are aligned for any dtype.
        pad = -pos % _ALIGN
        pieces += [b"\0" * pad, raw]
        pos += pad + raw.nbytes
    return pieces


def decode(data: bytearray) -> Any:
    """Rebuilds a value from one entry's bytes (arrays view ``data``)."""
    magic, count, body_len = _HEAD.unpack_from(data, 0)
    if magic != _MAGIC:
        raise ValueError(f"not a stoker cache entry (magic {magic!r})")
    view = memoryview(data)
    pos = _HEAD.size
    lens = struct.unpack_from(f"<{count}Q", data, pos)
    pos += 8 * count
    body = view[pos : pos + body_len]
    pos += body_len
    buffers = []
    for n in lens:
        pos += -pos % _ALIGN
        buffers.append(view[pos : pos + n])
        pos += n
    return _from_wire(pickle.loads(body, buffers=buffers))


class CacheStore:
    """Entries ``0 <= index < capacity`` of one cached prefix, as files under ``root``.

    Args:
        root: The folder (created).
        capacity: Indices at or above this are never stored (the cache was sized to fit).
        reserve_bytes: Stop writing when the file system has less than this free.
    """

    def __init__(self, root: str, capacity: int, reserve_bytes: int = 0) -> None:
        self.root = root
        self.capacity = capacity
        self.reserve_bytes = reserve_bytes
        os.makedirs(root, exist_ok=True)

    def _path(self, index: int) -> str:
        return os.path.join(self.root, f"{index}.entry")

    def get(self, index: int) -> Any:
        """The cached value of ``index``, or :data:`MISS`."""
        try:
            with open(self._path(index), "rb", buffering=0) as f:
                size = os.fstat(f.fileno()).st_size
                data = bytearray(size)
                if f.readinto(data) != size:
                    return MISS  # cannot happen with rename-into-place; recompute to be safe
        except FileNotFoundError:
            return MISS
        return decode(data)

    def put(self, index: int, value: Any) -> bool:
        """Stores ``value`` for ``index`` if it fits; True when written."""
        if index >= self.capacity:
            return False
        if self.reserve_bytes and shutil.disk_usage(self.root).free < self.reserve_bytes:
            return False
        tmp = os.path.join(self.root, f".{index}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb", buffering=0) as f:
                for piece in encode(value):
                    f.write(piece)
            os.replace(tmp, self._path(index))
        except OSError:  # out of space or the folder was removed: recompute next time instead
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            return False
        return True

    def entries(self) -> int:
        """Number of complete entries on disk."""
        try:
            return sum(1 for n in os.listdir(self.root) if n.endswith(".entry"))
        except FileNotFoundError:
            return 0

    def bytes_used(self) -> int:
        try:
            return sum(e.stat().st_size for e in os.scandir(self.root) if e.name.endswith(".entry"))
        except FileNotFoundError:
            return 0

    def remove(self) -> None:
        """Deletes every entry and the folder."""
        shutil.rmtree(self.root, ignore_errors=True)
