"""One shape for every name-to-strategy table: a read-only :class:`Registry`.

Each table (autoscaling policies, worker placement, cluster CPU and GPU placement policies, batch
allocation policies, LR rules, worker and parameter-server backends) is a module-level constant built
from a literal mapping, so adding a strategy means adding a module and one line, never registering at
run time. The package that owns a table exposes one lookup named after what it returns
(``cpu_policy(name)``, ``lr_rule(name)``), and every table refuses an unknown name with the same
message, which lists the valid names.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from stoker.errors import InputError

T = TypeVar("T")


@dataclass(frozen=True)
class Lazy:
    """An entry imported on first lookup, keeping optional or heavy imports (Ray, scipy) off the path
    of callers that never use it.

    Attributes:
        module: Dotted module path, e.g. ``"stoker.train.hetero.policies.optimal"``.
        attr: Name of the strategy in that module.
    """

    module: str
    attr: str

    def load(self) -> Any:
        return getattr(importlib.import_module(self.module), self.attr)


class Registry(Mapping[str, T], Generic[T]):
    """A read-only table of named strategies of one kind.

    It is a ``Mapping`` (``name in reg``, ``sorted(reg)`` for CLI choices); :meth:`lookup` is the
    call to use with a name from the user, because its error lists the valid names.

    Args:
        kind: What the entries are, as the user would call them (``"CPU policy"``); it starts the
            error message.
        entries: Name -> strategy, or name -> :class:`Lazy` for one imported when first looked up.
    """

    def __init__(self, kind: str, entries: Mapping[str, T | Lazy]) -> None:
        self.kind = kind
        self._entries: dict[str, T | Lazy] = dict(entries)  # a copy: later edits to the literal don't leak in

    def lookup(self, name: str) -> T:
        """The strategy registered as ``name``.

        Raises:
            InputError: ``name`` is not registered; the message lists the valid names.
        """
        try:
            entry = self._entries[name]
        except (KeyError, TypeError):  # TypeError: an unhashable name is as unknown as a misspelt one
            raise InputError(self.unknown(name)) from None
        return entry.load() if isinstance(entry, Lazy) else entry  # type: ignore[return-value]

    def unknown(self, name: object) -> str:
        """The message for a name that is not registered (one format for every table)."""
        return f"unknown {self.kind} {name!r}; choose one of {sorted(self._entries)}"

    def __getitem__(self, name: str) -> T:
        if name not in self._entries:
            raise KeyError(name)
        return self.lookup(name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {sorted(self._entries)})"
