"""A digest of a batch's exact bytes, so timed runs can be compared without keeping their batches."""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
import torch


def _update(crc: int, value: Any) -> int:
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous()
        crc = zlib.crc32(f"T{t.dtype}{tuple(t.shape)}".encode(), crc)
        return zlib.crc32(t.reshape(-1).view(torch.uint8).numpy().data, crc)
    if isinstance(value, np.ndarray):
        crc = zlib.crc32(f"A{value.dtype}{value.shape}".encode(), crc)
        return zlib.crc32(np.ascontiguousarray(value).data, crc)
    if isinstance(value, dict):
        for k in value:
            crc = _update(zlib.crc32(repr(k).encode(), crc), value[k])
        return crc
    if isinstance(value, (list, tuple)):
        crc = zlib.crc32(f"{type(value).__name__}{len(value)}".encode(), crc)
        for v in value:
            crc = _update(crc, v)
        return crc
    return zlib.crc32(f"{type(value).__name__}:{value!r}".encode(), crc)


def digest(batch: Any) -> int:
    """CRC-32 over every tensor's and array's bytes, dtype and shape, and the repr of other leaves."""
    return _update(0, batch)
