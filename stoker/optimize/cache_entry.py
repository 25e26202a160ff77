"""The bytes of one cache entry: a header with its length and checksum, the pickle, the arrays.

Arrays and tensors travel out of band (pickle protocol 5), 64-byte aligned, so reading an entry
back is one ``readinto`` and no copy of the payload. The header carries the sample index, the
cut level the entry was made at (see :mod:`stoker.optimize.cached_source`), the entry's total
length and a checksum of its pieces (:func:`checksum`): :func:`decode` refuses a short, long,
damaged or misplaced entry with :class:`DamagedEntry`, and the store treats that as a miss.
"""

from __future__ import annotations

import pickle
import struct
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

# magic, level, buffer count, index, pickle length, total length, checksum of the pieces
_HEAD = struct.Struct("<4sIIQQQQ")
_MAGIC = b"STK3"
_ALIGN = 64
_MASK = (1 << 64) - 1
_MIX = 0x9E3779B97F4A7C15  # odd: each piece's sum lands in its own position of the total
_SMALL = 8192  # bytes: below this, a piece's checksum is its CRC-32
_BLOCK = 8192  # words weighted per np.dot call (64 kB of weights, shared by every block)
_WEIGHTS = np.random.default_rng(0x53544B33).integers(0, 2**63, size=_BLOCK, dtype=np.uint64) * np.uint64(
    2
) + np.uint64(1)


def checksum(piece: bytes | bytearray | memoryview, total: int = 0) -> int:
    """Folds ``piece`` into a running 64-bit checksum: a weighted sum of its 64-bit words, mod 2**64.

    Every weight is odd, so any error confined to one word (a flipped bit, a changed byte) always
    changes the sum; blocks are mixed by position, so moved or swapped blocks change it too. One
    ``np.dot`` per 64 kB: about 6x faster than ``zlib.crc32``, so a cache hit of a large array
    pays little for its check. A piece under :data:`_SMALL` bytes is folded in by its CRC-32
    instead (numpy's fixed cost per call would dominate).
    """
    if len(piece) < _SMALL:  # bytes/bytearray/1-D byte views: len is the byte count
        return (total * _MIX + (len(piece) << 32 | zlib.crc32(piece))) & _MASK
    mv = memoryview(piece).cast("B")
    whole = len(mv) // 8
    words = np.frombuffer(mv[: whole * 8], dtype="<u8")
    total = (total * _MIX + len(mv)) & _MASK
    for start in range(0, whole, _BLOCK):
        block = words[start : start + _BLOCK]
        total = (total * _MIX + int(np.dot(block, _WEIGHTS[: block.size]))) & _MASK
    tail = int.from_bytes(bytes(mv[whole * 8 :]), "little")
    return (total * _MIX + tail) & _MASK


class DamagedEntry(Exception):
    """An entry's bytes are not what was written (short, long, flipped, another index or format)."""


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


def encode(value: Any, index: int, level: int) -> list[bytes | memoryview]:
    """The pieces of one entry: header, buffer lengths, pickle, aligned buffers.

    Args:
        value: What to store.
        index: The sample index (checked on read, so a misplaced file is never served).
        level: How many prefix operators made ``value`` (checked on read).
    """
    bufs: list[pickle.PickleBuffer] = []
    body = pickle.dumps(_to_wire(value), protocol=5, buffer_callback=bufs.append)
    raws = [b.raw() for b in bufs]
    lens = struct.pack(f"<{len(raws)}Q", *(r.nbytes for r in raws))
    pieces: list[bytes | memoryview] = [lens, body]
    pos = _HEAD.size + len(lens) + len(body)
    for raw in raws:
        # Every buffer starts 64-byte aligned, so the arrays read back are aligned for any dtype.
        pad = -pos % _ALIGN
        pieces += [b"\0" * pad, raw]
        pos += pad + raw.nbytes
    crc = checksum(body, checksum(lens))
    for raw in raws:
        crc = checksum(raw, crc)
    return [_HEAD.pack(_MAGIC, level, len(raws), index, len(body), pos, crc), *pieces]


def header(data: bytes | bytearray | memoryview) -> tuple[int, int]:
    """(index, level) of an entry, without checking its body."""
    if len(data) < _HEAD.size:
        raise DamagedEntry(f"{len(data)} bytes, shorter than a header")
    magic, level, _, index, _, _, _ = _HEAD.unpack_from(data, 0)
    if magic != _MAGIC:
        raise DamagedEntry(f"not a stoker cache entry (magic {magic!r})")
    return index, level


def decode(data: bytearray, index: int | None = None) -> Any:
    """Rebuilds a value from one entry's bytes (arrays view ``data``).

    Raises:
        DamagedEntry: the length, checksum, index or format does not match.
    """
    header(data)
    _, _, count, stored, body_len, total, crc = _HEAD.unpack_from(data, 0)
    if total != len(data):
        raise DamagedEntry(f"{len(data)} bytes where the header says {total}")
    if index is not None and stored != index:
        raise DamagedEntry(f"entry of sample {stored} found in the place of sample {index}")
    view = memoryview(data)
    pos = _HEAD.size
    if pos + 8 * count > total:
        raise DamagedEntry(f"{count} buffers do not fit in {total} bytes")
    lens = struct.unpack_from(f"<{count}Q", data, pos)
    got = checksum(view[pos : pos + 8 * count])
    pos += 8 * count
    body = view[pos : pos + body_len]
    got = checksum(body, got)
    pos += body_len
    buffers = []
    for n in lens:
        pos += -pos % _ALIGN
        if pos + n > total:
            raise DamagedEntry(f"a buffer of {n} bytes at {pos} runs past the end ({total})")
        buffers.append(view[pos : pos + n])
        got = checksum(buffers[-1], got)
        pos += n
    if got != crc or pos != total:
        raise DamagedEntry("checksum mismatch")
    try:
        return _from_wire(pickle.loads(body, buffers=buffers))
    except Exception as exc:  # checksum right but unreadable: written by another version
        raise DamagedEntry(f"unreadable pickle: {type(exc).__name__}: {exc}") from exc
