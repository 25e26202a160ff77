"""Where the parameter server's shards run, chosen by name: ``local`` processes or ``ray`` actors.

Each backend implements :class:`ShardBackend` and is built from a :class:`ShardConfig`; add one by
writing a module and a line in :data:`BACKENDS`.
"""

from __future__ import annotations

from stoker.registry import Lazy, Registry
from stoker.train.ps.backends.base import ShardBackend, ShardConfig

# Lazy, so the local backend never imports the Ray module (nor Ray).
BACKENDS: Registry[type[ShardBackend]] = Registry(
    "parameter-server backend",
    {
        "local": Lazy("stoker.train.ps.backends.local", "LocalShards"),
        "ray": Lazy("stoker.train.ps.backends.ray", "RayShards"),
    },
)


def shard_backend(name: str) -> type[ShardBackend]:
    """The shard backend class called ``name``."""
    return BACKENDS.lookup(name)


__all__ = ["BACKENDS", "ShardBackend", "ShardConfig", "shard_backend"]
