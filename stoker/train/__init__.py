"""Training: a sharded parameter server, activation swapping, batch-size search, LR scaling,
and heterogeneous device profiling and batch split.

Names are resolved lazily (PEP 562) so ``import stoker.train`` imports neither torch nor Ray
and starts nothing.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "profile": "stoker.train.profiling",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'stoker.train' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
