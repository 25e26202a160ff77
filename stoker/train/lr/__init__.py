"""Learning-rate rules, one per module, chosen by name: ``lr_rule("linear")(LRInput(...))``.

Each rule is a pure function of an :class:`LRInput` record, so a trainer, a planner and the
tests call the same code.
"""

from __future__ import annotations

from collections.abc import Callable

from stoker.registry import Registry
from stoker.train.lr.adascale import adascale
from stoker.train.lr.base import LRInput
from stoker.train.lr.linear import linear
from stoker.train.lr.sqrt import sqrt

LRRule = Callable[[LRInput], float]

# Read-only: a rule is added by adding a module and a line here, never at run time.
LR_RULES: Registry[LRRule] = Registry("LR rule", {"linear": linear, "sqrt": sqrt, "adascale": adascale})


def lr_rule(name: str) -> LRRule:
    """The rule registered as ``name``."""
    return LR_RULES.lookup(name)


__all__ = ["LR_RULES", "LRInput", "LRRule", "lr_rule"]
