"""Bit-exact comparison and size of pipeline values (tensors, arrays, PIL images, nestings)."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch


def _tensor_bytes(t: torch.Tensor) -> torch.Tensor:
    return t.detach().contiguous().reshape(-1).view(torch.uint8)


def same(a: Any, b: Any) -> bool:
    """True when ``a`` and ``b`` are bit-identical: same types, dtypes, shapes and bytes.

    Bytes, not values, so NaNs with equal bits compare equal and -0.0 differs from 0.0.
    """
    if isinstance(a, torch.Tensor):
        return (
            isinstance(b, torch.Tensor)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and torch.equal(_tensor_bytes(a), _tensor_bytes(b))
        )
    if isinstance(a, np.ndarray):
        return (
            isinstance(b, np.ndarray)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes()
        )
    if hasattr(a, "tobytes") and hasattr(a, "mode") and hasattr(a, "size"):  # a PIL image
        return type(a) is type(b) and a.mode == b.mode and a.size == b.size and a.tobytes() == b.tobytes()
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return type(a) is type(b) and list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float) and isinstance(b, float):
        return np.float64(a).tobytes() == np.float64(b).tobytes()
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:  # an object whose == is not a bool (e.g. ambiguous truth value)
        return False


def nbytes(value: Any) -> int:
    """Bytes a value holds in its arrays, tensors, images, strings (containers add nothing)."""
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, (bytes, bytearray, str)):
        return len(value)
    if hasattr(value, "tobytes") and hasattr(value, "mode") and hasattr(value, "size"):
        w, h = value.size
        return w * h * len(value.getbands())
    if isinstance(value, (list, tuple)):
        return sum(nbytes(v) for v in value)
    if isinstance(value, dict):
        return sum(nbytes(v) for v in value.values())
    return 8


def fresh_copy(value: Any) -> Any:
    """A copy of a sample a function may write into, holding only the sample's own bytes.

    ``copy.deepcopy`` of a tensor view copies its whole storage (a ``TensorDataset`` item is a
    view of the full tensor, so one probe copied the data set); ``clone`` copies the view only.
    """
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, (bytes, str, int, float, bool, complex, type(None))):
        return value
    if hasattr(value, "getbands") and hasattr(value, "copy"):  # a PIL image
        return value.copy()
    if isinstance(value, list):
        return [fresh_copy(v) for v in value]
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(fresh_copy(v) for v in value)
    if isinstance(value, dict) and type(value) is dict:
        return {k: fresh_copy(v) for k, v in value.items()}
    return copy.deepcopy(value)
