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
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import xxhash

# magic, level, buffer count, index, pickle length, total length, checksum of the pieces
_HEAD = struct.Struct("<4sIIQQQQ")
# The format: a kept cache_dir's folder name includes it, so a cache of another format is never read.
_MAGIC = b"STK4"
FORMAT = _MAGIC.decode()
_ALIGN = 64


def checksum(*pieces: bytes | bytearray | memoryview) -> int:
    """The 64-bit XXH3 hash of ``pieces`` one after the other.

    XXH3 runs at memory speed (10 us for a 300 kB decoded image on a cold cache, against 40 us for
    the numpy weighted word sum it replaced and 58 us for ``zlib.crc32``), and a cache entry pays it
    twice: when it is written and on every hit. Any change of the bytes (a flipped bit, a moved or
    swapped block, a truncation) changes the hash but for a chance of 2**-64.
    """
    h = xxhash.xxh3_64()
    for piece in pieces:
        h.update(piece)
    return int(h.intdigest())


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
    crc = checksum(lens, body, *raws)
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
    pieces = [view[pos : pos + 8 * count]]
    pos += 8 * count
    body = view[pos : pos + body_len]
    pieces.append(body)
    pos += body_len
    buffers = []
    for n in lens:
        pos += -pos % _ALIGN
        if pos + n > total:
            raise DamagedEntry(f"a buffer of {n} bytes at {pos} runs past the end ({total})")
        buffers.append(view[pos : pos + n])
        pos += n
    if pos != total or checksum(*pieces, *buffers) != crc:
        raise DamagedEntry("checksum mismatch")
    try:
        return _from_wire(pickle.loads(body, buffers=buffers))
    except Exception as exc:  # checksum right but unreadable: written by another version
        raise DamagedEntry(f"unreadable pickle: {type(exc).__name__}: {exc}") from exc
