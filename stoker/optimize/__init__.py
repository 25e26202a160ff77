"""Automatic pipeline optimisation: ``pipe, report = stoker.optimize(pipe)``.

Each rewrite is a small strategy in its own module that says when it is exact
(:mod:`~stoker.optimize.reorder_filter`, :mod:`~stoker.optimize.reorder_downscale`,
:mod:`~stoker.optimize.autocache`, :mod:`~stoker.optimize.fusion`,
:mod:`~stoker.optimize.placement`); :mod:`~stoker.optimize.registry` runs them in order.
Functions may declare traits with :func:`mark` (see :mod:`stoker.optimize.marks`).
"""

from __future__ import annotations

import sys
import types
from typing import Any

from stoker.optimize.base import Rewrite
from stoker.optimize.marks import Traits, mark, traits_of
from stoker.optimize.optimizer import Optimized, OptimizeReport, optimize
from stoker.optimize.registry import get_strategy, strategy_names

__all__ = [
    "OptimizeReport",
    "Optimized",
    "Rewrite",
    "Traits",
    "get_strategy",
    "mark",
    "optimize",
    "strategy_names",
    "traits_of",
]


class _CallableModule(types.ModuleType):
    """Lets ``stoker.optimize(pipe)`` work even after ``import stoker.optimize``.

    Importing the package makes ``stoker.optimize`` the module (the import system sets the
    parent's attribute), which would hide the function of the same name; a callable module
    serves both spellings.
    """

    def __call__(self, pipe: Any, **kwargs: Any) -> Optimized:
        return optimize(pipe, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
