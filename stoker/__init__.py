"""stoker keeps accelerators fed.

Importing :mod:`stoker` starts nothing (no processes, no servers, no logging configuration);
the public names below load their modules on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "Pipeline": "stoker.data.pipeline",
    "from_items": "stoker.data.pipeline",
    "from_files": "stoker.data.pipeline",
    "from_dataset": "stoker.data.pipeline",
    "from_iterable": "stoker.data.streams.iterable",
    "from_shards": "stoker.data.shards",
    "Loader": "stoker.data.loader",
    "DataLoader": "stoker.data.dataloader",
    "sample_rng": "stoker.data.rng",
    "sample_generator": "stoker.data.rng",
    "sample_key": "stoker.data.rng",
    "SampleError": "stoker.data.errors",
    "StokerError": "stoker.data.errors",
    "WorkerLostError": "stoker.data.errors",
    "PipelineSerializationError": "stoker.data.errors",
    "partition": "stoker.graph.partition",
    "Plan": "stoker.graph.plan",
    "stateful": "stoker.graph.marks",
    "carry": "stoker.graph.batch",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:
    from stoker.data.dataloader import DataLoader
    from stoker.data.errors import PipelineSerializationError, SampleError, StokerError, WorkerLostError
    from stoker.data.loader import Loader
    from stoker.data.pipeline import Pipeline, from_dataset, from_files, from_items
    from stoker.data.rng import sample_generator, sample_key, sample_rng
    from stoker.data.shards import from_shards
    from stoker.data.streams.iterable import from_iterable
    from stoker.graph.batch import carry
    from stoker.graph.marks import stateful
    from stoker.graph.partition import partition
    from stoker.graph.plan import Plan


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'stoker' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
