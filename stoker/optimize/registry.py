"""The rewrite strategies by name, in the order :func:`stoker.optimize.optimize` runs them.

Order matters: reordering first (a filter moved forward and a downscale moved before colour ops
shrink the work that autocache then caches), then autocache (the deterministic prefix), then
fusion (the trailing element-wise ops), then placement (reports where the rest could run).
"""

from __future__ import annotations

from stoker.optimize import autocache, fusion, placement, reorder_downscale, reorder_filter
from stoker.optimize.base import Strategy
from stoker.registry import Registry

STRATEGIES: Registry[Strategy] = Registry(
    "optimizer strategy",
    {
        reorder_filter.NAME: reorder_filter.apply,
        reorder_downscale.NAME: reorder_downscale.apply,
        autocache.NAME: autocache.apply,
        fusion.NAME: fusion.apply,
        placement.NAME: placement.apply,
    },
)


def strategy_names() -> list[str]:
    """Every strategy, in run order."""
    return list(STRATEGIES)


def get_strategy(name: str) -> Strategy:
    """The strategy called ``name``.

    Raises:
        stoker.errors.InputError: naming the valid strategies.
    """
    return STRATEGIES.lookup(name)
