"""Worker pools behind one small interface: local processes (default) and Ray actors."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
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


# What the Loader itself gives every pool; the rest of a pool's parameters are the user's options.
FROM_LOADER = frozenset({"pipeline", "seed", "on_error", "prefetch"})


def check_options(name: str, options: Mapping[str, Any]) -> None:
    """Refuses, when the Loader is built rather than when its workers start, an option that neither
    ``stoker.Loader`` nor the ``name`` backend takes.

    Raises:
        stoker.errors.InputError: ``name`` is not a backend (naming the valid ones).
        TypeError: naming the unknown options and the backend's own.
    """
    params = inspect.signature(BACKENDS.lookup(name)).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    # Options the backend does not take, and those the Loader itself gives the backend (passed twice).
    unknown = sorted((set(options) - set(params)) | (set(options) & FROM_LOADER))
    if unknown:
        own = sorted(set(params) - FROM_LOADER)
        raise TypeError(
            f"stoker.Loader got unexpected keyword arguments {unknown}: neither the Loader nor its {name!r} "
            f"worker backend takes them (the {name!r} backend's options: {', '.join(own)})"
        )
