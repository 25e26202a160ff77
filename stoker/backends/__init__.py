"""Worker pools behind one small interface: local processes (default) and Ray actors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stoker.backends.base import WorkerPool


def _local(**kw: Any) -> WorkerPool:
    from stoker.backends.local import LocalPool

    return LocalPool(**kw)


def _ray(**kw: Any) -> WorkerPool:
    from stoker.backends.ray import RayPool

    return RayPool(**kw)


# Imports stay inside the factories so that the local backend never imports Ray.
BACKENDS: dict[str, Callable[..., WorkerPool]] = {"local": _local, "ray": _ray}


def make_pool(name: str, **kw: Any) -> WorkerPool:
    """Builds the worker pool registered under ``name``."""
    try:
        factory = BACKENDS[name]
    except KeyError:
        raise ValueError(f"backend={name!r} is not one of {sorted(BACKENDS)}") from None
    return factory(**kw)
