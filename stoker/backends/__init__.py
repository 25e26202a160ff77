"""Worker pools behind one small interface: local processes (default) and Ray actors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stoker.backends.base import WorkerPool
from stoker.registry import Lazy, Registry

# Lazy, so that the local backend never imports Ray.
BACKENDS: Registry[Callable[..., WorkerPool]] = Registry(
    "worker backend",
    {"local": Lazy("stoker.backends.local", "LocalPool"), "ray": Lazy("stoker.backends.ray", "RayPool")},
)


def make_pool(name: str, **kw: Any) -> WorkerPool:
    """Builds the worker pool registered under ``name``."""
    return BACKENDS.lookup(name)(**kw)
