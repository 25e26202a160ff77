"""Straight-line fits for profiles: ``y = a + b * x`` with ``a, b >= 0``."""

from __future__ import annotations

from collections.abc import Sequence


def fit_line(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    """Least-squares intercept and slope of ``ys`` against ``xs``, both kept non-negative.

    A negative intercept (noise, or a measurement whose per-step cost shrinks with batch) is set to
    0 and the slope refitted through the origin; a negative slope is set to 0 with the mean as the
    intercept. Costs that go down with more work would make every share look free.

    Raises:
        ValueError: Fewer than two distinct ``xs``, or lengths differ.
    """
    if len(xs) != len(ys) or len(set(xs)) < 2:
        raise ValueError(f"need >= 2 distinct batch sizes with one measurement each, got {xs=} {ys=}")
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    a = my - b * mx
    if b < 0:
        return max(my, 0.0), 0.0
    if a < 0:
        return 0.0, max(sum(x * y for x, y in zip(xs, ys)) / sum(x * x for x in xs), 0.0)
    return a, b
