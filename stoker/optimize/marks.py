"""Declared traits of pipeline functions: what the optimiser may assume without (only) probing.

The optimiser probes every operator on real samples (does it read the RNG, is it deterministic,
does it give the same answer on a batch). A probe sees a few samples only, so a user can state
what a function is, and the optimiser then still checks the statement on the probe samples and
refuses a rewrite whose result differs:

- ``random``: the function reads the per-sample RNG (``True``) even if a probe did not see it
  (a draw behind a rare branch); never cached, never moved past another RNG user.
- ``elementwise``: it acts element by element (or per sample along the first axis), so it may run
  once per batch after collate.
- ``pointwise``: a per-pixel colour operator (output pixel = g(input pixel), g from the sample's
  random draws only), which commutes exactly with any operator that only selects pixels.
- ``selects_pixels``: a geometry operator whose output pixels are input pixels (crop, flip,
  nearest-neighbour downscale): exact to move before ``pointwise`` operators.
- ``resamples``: a downscale that interpolates (bilinear, area): moving it before ``pointwise``
  operators is approximate, done only with ``optimize(..., approximate=True)``.
- ``reads_source``: a filter that looks only at fields the source item already has, so it may
  run before the maps that follow the source.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any, TypeVar

ATTR = "__stoker_traits__"

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Traits:
    """What a function declares about itself; ``None`` means "not declared, probe it"."""

    random: bool | None = None
    elementwise: bool | None = None
    pointwise: bool | None = None
    selects_pixels: bool | None = None
    resamples: bool | None = None
    reads_source: bool | None = None


_NAMES = tuple(f.name for f in fields(Traits))


def mark(fn: F, **traits: bool) -> F:
    """Declares traits on ``fn`` (a function or callable object) and returns it.

    Example: ``mark(my_jitter, random=True, pointwise=True)``.

    Raises:
        ValueError: for a trait name that does not exist.
    """
    unknown = sorted(set(traits) - set(_NAMES))
    if unknown:
        raise ValueError(f"mark() got unknown traits {unknown}; choose from {list(_NAMES)}")
    merged = replace(traits_of(fn), **traits)
    try:
        setattr(fn, ATTR, merged)
    except AttributeError as exc:
        raise TypeError(
            f"cannot mark {fn!r} of type {type(fn).__name__}: it takes no attributes; wrap it in a function"
        ) from exc
    return fn


def traits_of(fn: Any) -> Traits:
    """The traits declared on ``fn`` (or on its class), all ``None`` when nothing was declared."""
    t = getattr(fn, ATTR, None)
    return t if isinstance(t, Traits) else Traits()


def _decorator(**traits: bool) -> Callable[[F], F]:
    def apply(fn: F) -> F:
        return mark(fn, **traits)

    return apply


random = _decorator(random=True)
deterministic = _decorator(random=False)
elementwise = _decorator(elementwise=True)
pointwise = _decorator(pointwise=True)
selects_pixels = _decorator(selects_pixels=True)
resamples = _decorator(resamples=True)
reads_source = _decorator(reads_source=True)
