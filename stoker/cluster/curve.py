"""Throughput over data-worker CPUs, and the online estimate a job keeps of it.

A curve maps CPUs per GPU to a job's throughput in any fixed unit (Synergy's profiles use "1 = the
GPU-proportional share of 3 CPUs per GPU"). Policies only compare values of one job's curve, so the unit
does not matter; :meth:`Curve.utilisation` turns a value into the fraction of the job's peak, which is how
busy its GPUs are.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Curve:
    """Piecewise-linear throughput over CPUs per GPU.

    Below the first point the curve falls linearly to 0 at 0 CPUs (no data, no steps); beyond the last
    point it stays flat.

    Attributes:
        xs: CPUs per GPU, strictly increasing, > 0.
        ys: Throughput at each of ``xs``, >= 0.
    """

    xs: tuple[float, ...]
    ys: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.xs) != len(self.ys) or not self.xs:
            raise ValueError(f"a curve needs as many xs as ys, at least one: {self.xs=} {self.ys=}")
        if any(b <= a for a, b in zip(self.xs, self.xs[1:])) or self.xs[0] <= 0:
            raise ValueError(f"curve xs={self.xs} should be positive and strictly increasing")
        # Cached: the allocators ask for it millions of times per simulated trace.
        object.__setattr__(self, "_peak", max(self.ys))

    @classmethod
    def trusted(cls, xs: tuple[float, ...], ys: tuple[float, ...]) -> Curve:
        """A curve from points already known valid (built from a valid grid): no checks, for the
        controller's round, which builds up to two curves per job at 1,000 jobs."""
        c = object.__new__(cls)
        object.__setattr__(c, "xs", xs)
        object.__setattr__(c, "ys", ys)
        object.__setattr__(c, "_peak", max(ys))
        return c

    @classmethod
    def flat(cls, value: float = 1.0) -> Curve:
        """A job that needs one CPU per GPU and gains nothing from more."""
        return cls((1.0,), (value,))

    def __call__(self, cpus_per_gpu: float) -> float:
        """Throughput at ``cpus_per_gpu`` CPUs per GPU."""
        xs, ys = self.xs, self.ys
        if cpus_per_gpu <= 0:
            return 0.0
        if cpus_per_gpu <= xs[0]:
            return ys[0] * cpus_per_gpu / xs[0]
        if cpus_per_gpu >= xs[-1]:
            return ys[-1]
        i = bisect.bisect_right(xs, cpus_per_gpu)
        x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
        return y0 + (y1 - y0) * (cpus_per_gpu - x0) / (x1 - x0)

    @property
    def peak(self) -> float:
        """Highest throughput anywhere on the curve."""
        return self._peak  # type: ignore[attr-defined]

    def next_breakpoint(self, cpus_per_gpu: float) -> float | None:
        """The first of ``xs`` above ``cpus_per_gpu``; None past the last (where the curve is flat)."""
        i = bisect.bisect_right(self.xs, cpus_per_gpu + 1e-9)
        return self.xs[i] if i < len(self.xs) else None

    def saturation(self) -> float:
        """Fewest CPUs per GPU that reach the peak."""
        top = self.peak
        return next(x for x, y in zip(self.xs, self.ys) if y >= top)

    def utilisation(self, cpus_per_gpu: float) -> float:
        """Fraction of the job's peak throughput reached at ``cpus_per_gpu``: how busy its GPUs are."""
        top = self._peak  # type: ignore[attr-defined]
        return self(cpus_per_gpu) / top if top > 0 else 1.0


class OnlineCurve:
    """A job's estimate of its own curve, learned from measured throughput.

    Each measurement updates the nearest grid point with an exponential moving average. Grid points
    never measured are filled *optimistically*: from the highest measured point upward the estimate
    keeps the perfect-scaling slope through the origin (y/x), capped at ``optimism`` times that point,
    and never above a measurement taken further right. Before any measurement the job is assumed
    CPU-bound (throughput proportional to CPUs). Optimism is what makes an allocator try more CPUs for a
    job; one measurement there corrects it. The estimate is made non-decreasing, because more data
    workers never make a loader slower.

    Args:
        grid: CPUs per GPU at which to keep estimates.
        alpha: Weight of a new measurement in the moving average (0 < alpha <= 1).
        optimism: Cap on an unmeasured point, as a multiple of the highest measured value.
    """

    def __init__(self, grid: Sequence[float], alpha: float = 0.5, optimism: float = 8.0) -> None:
        if not 0 < alpha <= 1:
            raise ValueError(f"{alpha=} should be in (0, 1]")
        if optimism < 1:
            raise ValueError(f"{optimism=} should be >= 1 (1 disables optimistic exploration)")
        self.grid = tuple(float(x) for x in grid)
        Curve(self.grid, tuple(1.0 for _ in self.grid))  # validates the grid
        self.alpha = alpha
        self.optimism = optimism
        self._est: list[float | None] = [None] * len(self.grid)
        self._cached: Curve | None = None

    def observe(self, cpus_per_gpu: float, throughput: float) -> None:
        """Adds one measurement: ``throughput`` seen with ``cpus_per_gpu`` CPUs per GPU."""
        if cpus_per_gpu <= 0 or throughput < 0:
            return
        i = self._nearest(cpus_per_gpu)
        # Scale the measurement to the grid point along the line through the origin only when it is
        # below the first grid point (there throughput is CPU-bound, so proportional to CPUs).
        if cpus_per_gpu < self.grid[0]:
            throughput *= self.grid[0] / cpus_per_gpu
        old = self._est[i]
        new = throughput if old is None else (1 - self.alpha) * old + self.alpha * throughput
        if new != old:  # a curve is rebuilt only when an estimate moved (the controller's round at 1,000 jobs)
            self._est[i] = new
            self._cached = None

    def _nearest(self, x: float) -> int:
        # The simulator observes millions of times per trace: bisect rather than a scan of the grid.
        grid = self.grid
        i = bisect.bisect_left(grid, x)
        if i == 0:
            return 0
        if i == len(grid):
            return i - 1
        return i if grid[i] - x < x - grid[i - 1] else i - 1

    @property
    def measured(self) -> bool:
        """Whether any measurement came in yet."""
        return any(e is not None for e in self._est)

    def curve(self) -> Curve:
        """The current estimate as a :class:`Curve` (proportional to CPUs before any measurement)."""
        if self._cached is None:
            self._cached = self._build()
        return self._cached

    def _build(self) -> Curve:
        if not self.measured:
            return Curve(self.grid, self.grid)
        ys: list[float] = []
        last_x, last_y = 0.0, 0.0
        top_measured = 0.0
        for x, est in zip(self.grid, self._est):
            if est is not None:
                y = max(est, last_y)
                top_measured = max(top_measured, y)
                last_x, last_y = x, y
            elif last_x > 0:
                y = max(min(last_y * x / last_x, top_measured * self.optimism), last_y)
            else:
                y = 0.0  # below every measurement: filled in by the next measured point
            ys.append(y)
        first = next(i for i, e in enumerate(self._est) if e is not None)
        for i in range(first):
            ys[i] = ys[first] * self.grid[i] / self.grid[first]
        # An optimistic guess never exceeds a measurement taken further right.
        cap = float("inf")
        for i in range(len(ys) - 1, -1, -1):
            if self._est[i] is not None:
                cap = ys[i]
            else:
                ys[i] = min(ys[i], cap)
        for i in range(1, len(ys)):
            ys[i] = max(ys[i], ys[i - 1])
        return Curve.trusted(self.grid, tuple(ys))  # the grid was checked at construction

    def state_dict(self) -> dict[str, Any]:
        return {"grid": self.grid, "alpha": self.alpha, "optimism": self.optimism, "est": list(self._est)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.grid, self.alpha, self.optimism = tuple(state["grid"]), state["alpha"], state["optimism"]
        self._est = list(state["est"])
        self._cached = None
