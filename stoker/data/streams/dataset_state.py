"""Which data sets' ``state_dict()`` stoker may use to move a virtual shard, and who wrote them.

stoker saves a virtual shard's position by calling the data set's ``state_dict()`` in the worker
after a block and restores it with ``load_state_dict(state)`` on a fresh copy (torchdata's
``Stateful`` protocol, as ``StatefulDataLoader`` calls it per worker). Libraries that manage their
own workers use the same method names for another contract: litdata's
``StreamingDataset.state_dict(num_samples_yielded, num_workers, batch_size)`` and mosaicml-streaming's
``StreamingDataset.state_dict(num_samples, from_beginning)`` describe a whole rank, are called in the
main process, and raise inside a worker. Such a data set is read without its state (a moved shard
is replayed from its start), so only methods stoker can call as it needs are used.
"""

from __future__ import annotations

import functools
import inspect
from importlib import metadata
from typing import Any


def _callable_with(fn: Any, *args: Any) -> bool:
    """True when ``fn(*args)`` binds to ``fn``'s signature (a builtin without one counts as callable)."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return True
    try:
        signature.bind(*args)
    except TypeError:
        return False
    return True


def resumable(dataset: Any) -> bool:
    """True when stoker can save and restore a shard's position through the data set's own methods.

    That is torchdata's ``Stateful`` protocol: ``state_dict()`` callable with no argument and
    ``load_state_dict(state)`` with one. A ``state_dict`` that needs arguments (litdata,
    mosaicml-streaming) is left alone.
    """
    save = getattr(dataset, "state_dict", None)
    load = getattr(dataset, "load_state_dict", None)
    if not callable(save) or not callable(load):
        return False
    return _callable_with(save) and _callable_with(load, {})


@functools.cache
def _distributions() -> dict[str, list[str]]:
    return dict(metadata.packages_distributions())


def _library(cls: type) -> str | None:
    names = _distributions().get(cls.__module__.split(".")[0])
    return names[0] if names else None


def libraries_of(obj: Any) -> list[str]:
    """The installed distributions that define ``obj``'s class and its bases, most derived first.

    A user's subclass of litdata's ``StreamingDataset`` gives ``["litdata", "torch"]``; a class
    from a script or a test module gives only the libraries of its bases.
    """
    out: list[str] = []
    for cls in type(obj).__mro__:
        name = _library(cls)
        if name is not None and name not in out:
            out.append(name)
    return out


def describe(obj: Any) -> str:
    """The data set's class with the library it comes from, for messages.

    ``"litdata's StreamingDataset"``; ``"MyData (a litdata StreamingDataset)"`` for a user's
    subclass; ``"MyData (module __main__)"`` for a class of no library but torch.
    """
    cls = type(obj)
    own = _library(cls)
    if own is not None:
        return f"{own}'s {cls.__qualname__}"
    for base in cls.__mro__[1:]:
        name = _library(base)
        if name is not None and name != "torch":
            return f"{cls.__qualname__} (a {name} {base.__qualname__})"
    return f"{cls.__qualname__} (module {cls.__module__})"
