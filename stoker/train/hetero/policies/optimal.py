"""Optimal (reference): the balanced-split program solved exactly as a mixed-integer linear program.

    minimise T  subject to, for every task t and device d that has t's profile,
      sum_d x[t,d]                                   = B[t]      (the whole global batch is served)
      x[t,d]                                         <= cap[t,d] * y[t,d]   (y: d serves t at all)
      sum_t a[t,d] * y[t,d] + b[t,d] * x[t,d]        <= T        (round model, see cost.py)
      sum_t m0[t,d] * y[t,d] + m1[t,d] * x[t,d]      <= M[d]     (memory)
      x integer >= 0, y binary

It is exact for the round model, but needs scipy (HiGHS through ``scipy.optimize.milp``) and its
run time grows quickly with tasks x devices, so ``stoker bench hetero`` and the tests use it to
measure how far the ``balanced`` policy is from the best possible, not to place jobs.
"""

from __future__ import annotations

from collections.abc import Sequence

from stoker.train.hetero.cost import validate
from stoker.train.hetero.records import Allocation, DeviceSpec, InfeasibleError, Share, TaskSpec

NAME = "optimal"
_GIB = float(2**30)  # memory rows in GiB keep the coefficients near the time rows' scale for HiGHS


def allocate(tasks: Sequence[TaskSpec], devices: Sequence[DeviceSpec], time_limit_s: float = 60.0) -> Allocation:
    """The allocation with the shortest round time (whole samples), found by HiGHS.

    Raises:
        InfeasibleError: No allocation fits in memory.
        RuntimeError: The solver stopped without a proven optimum (e.g. ``time_limit_s`` hit).
        ImportError: scipy is missing; it comes with ``pip install stoker[dev]`` or ``pip install scipy``.
    """
    import numpy as np
    from scipy.optimize import Bounds, LinearConstraint, milp

    validate(tasks, devices)
    pairs = [(t, d, p) for t in tasks for d in devices if (p := t.profile(d.type)) is not None]
    n = len(pairs)
    cap = [min(t.global_batch, p.max_batch(d.memory_bytes)) for t, d, p in pairs]
    rows: list[list[float]] = []
    lo: list[float] = []
    hi: list[float] = []
    for task in tasks:  # every sample of the task is served
        rows.append([1.0 if t is task else 0.0 for t, _, _ in pairs] + [0.0] * n + [0.0])
        lo.append(task.global_batch)
        hi.append(task.global_batch)
    for i in range(n):  # x <= cap * y
        row = [0.0] * (2 * n + 1)
        row[i], row[n + i] = 1.0, -cap[i]
        rows.append(row)
        lo.append(-np.inf)
        hi.append(0.0)
    for dev in devices:
        on = [d is dev for _, d, _ in pairs]
        busy = [p.step_per_sample_s * o for (_, _, p), o in zip(pairs, on)]
        busy += [p.step_fixed_s * o for (_, _, p), o in zip(pairs, on)] + [-1.0]
        rows.append(busy)
        lo.append(-np.inf)
        hi.append(0.0)
        mem = [p.mem_per_sample_bytes / _GIB * o for (_, _, p), o in zip(pairs, on)]
        mem += [p.mem_fixed_bytes / _GIB * o for (_, _, p), o in zip(pairs, on)] + [0.0]
        rows.append(mem)
        lo.append(-np.inf)
        hi.append(dev.memory_bytes / _GIB)
    cost = np.zeros(2 * n + 1)
    cost[-1] = 1.0
    res = milp(
        cost,
        constraints=LinearConstraint(np.array(rows), lo, hi),
        integrality=np.array([1] * (2 * n) + [0]),
        bounds=Bounds([0.0] * (2 * n + 1), [*cap, *([1.0] * n), np.inf]),
        options={"time_limit": time_limit_s},
    )
    if res.status == 2:
        raise InfeasibleError(
            f"no split of tasks {[t.name for t in tasks]} over devices {[d.name for d in devices]} fits in "
            "memory; lower the global batches or add devices (policy 'balanced' names the task that fails)"
        )
    if res.status != 0 or res.x is None:
        raise RuntimeError(f"MILP stopped without a proven optimum: {res.message}; raise time_limit_s")
    shares = [Share(t.name, d.name, round(v)) for (t, d, _), v in zip(pairs, res.x[:n]) if round(v) > 0]
    return Allocation(NAME, tuple(shares))
