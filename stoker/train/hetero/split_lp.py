"""The best split on a fixed support, as a linear program (HiGHS through ``scipy.optimize.linprog``).

Once it is decided which devices serve which task (the *support*), the fixed per-step costs are
constants and what is left is linear:

    minimise T  subject to
      sum_d x[t,d]                          = B[t]                         for every task t
      sum_t b[t,d] * x[t,d] - T            <= -sum_t a[t,d]                for every device d
      sum_t m1[t,d] * x[t,d]               <= M[d] - sum_t (m0 + m1)[t,d]  for every device d

The memory rows keep one sample of room per pair so that rounding the split up to whole samples
can never overflow a device.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from stoker.train.hetero.records import DeviceSpec, TaskSpec

Pair = tuple[str, str]  # (task name, device name)
_GIB = float(2**30)  # memory rows in GiB keep coefficients near the time rows' scale


def split_on_support(
    tasks: Sequence[TaskSpec], devices: Sequence[DeviceSpec], support: Iterable[Pair]
) -> dict[Pair, float] | None:
    """Samples per (task, device) pair of ``support`` minimising the round time; ``None`` if infeasible."""
    prof = _profiles(tasks, devices, support)
    if prof is None:
        return None
    return _solve(
        tasks,
        devices,
        {
            q: (
                p.step_fixed_s,
                p.step_per_sample_s,
                p.mem_fixed_bytes + p.mem_per_sample_bytes,
                p.mem_per_sample_bytes,
            )
            for q, p in prof.items()
        },
    )


def linearised_support(tasks: Sequence[TaskSpec], devices: Sequence[DeviceSpec], rounds: int = 10) -> set[Pair] | None:
    """A support chosen with fixed costs spread over the samples (dynamic slope scaling).

    Every usable pair starts in; each round charges a pair ``a / x`` per sample (and its fixed
    memory likewise), with ``x`` its share in the previous round, and solves the split over all
    pairs. Pairs whose share is small pay a steep price and drop out; the pairs left are a
    support that already accounts for memory held by the other tasks.
    """
    kind = {d.name: d.type for d in devices}
    prof = {(t.name, d.name): p for t in tasks for d in devices if (p := t.profile(kind[d.name])) is not None}
    batch = {t.name: t.global_batch for t in tasks}
    share = {q: float(batch[q[0]]) for q in prof}
    for _ in range(rounds):
        coef = {
            q: (
                0.0,
                p.step_per_sample_s + p.step_fixed_s / max(share[q], 1e-3),
                p.mem_per_sample_bytes,
                p.mem_per_sample_bytes + p.mem_fixed_bytes / max(share[q], 1e-3),
            )
            for q, p in prof.items()
        }
        x = _solve(tasks, devices, coef)
        if x is None:
            return None
        changed = max(abs(x[q] - share[q]) for q in prof)
        share = {q: v if v > 1e-6 else share[q] * 1e-3 for q, v in x.items()}
        if changed < 0.5:
            break
    return {q for q, v in share.items() if v >= 0.5}


def _profiles(tasks, devices, support):
    kind = {d.name: d.type for d in devices}
    pairs = sorted(support)
    prof = {}
    for t in tasks:
        for pair in pairs:
            if pair[0] == t.name and (p := t.profile(kind[pair[1]])) is not None:
                prof[pair] = p
    return prof if len(prof) == len(pairs) else None


def _solve(tasks, devices, coef: Mapping[Pair, tuple[float, float, float, float]]) -> dict[Pair, float] | None:
    """``coef[pair] = (time fixed s, time per sample s, memory fixed bytes, memory per sample bytes)``."""
    import numpy as np
    from scipy.optimize import linprog

    pairs = sorted(coef)
    n = len(pairs)
    a_eq = np.zeros((len(tasks), n + 1))
    for i, t in enumerate(tasks):
        a_eq[i, [j for j, p in enumerate(pairs) if p[0] == t.name]] = 1.0
    a_ub = np.zeros((2 * len(devices), n + 1))
    b_ub = np.zeros(2 * len(devices))
    for k, d in enumerate(devices):
        for j, pair in enumerate(pairs):
            if pair[1] == d.name:
                a0, a1, m0, m1 = coef[pair]
                a_ub[2 * k, j] = a1
                b_ub[2 * k] -= a0
                a_ub[2 * k + 1, j] = m1 / _GIB
                b_ub[2 * k + 1] -= m0 / _GIB
        a_ub[2 * k, n] = -1.0
        b_ub[2 * k + 1] += d.memory_bytes / _GIB
    cost = np.zeros(n + 1)
    cost[n] = 1.0
    batch = {t.name: t.global_batch for t in tasks}
    res = linprog(
        cost,
        A_ub=a_ub,
        b_ub=b_ub,
        A_eq=a_eq,
        b_eq=[t.global_batch for t in tasks],
        bounds=[(0, batch[p[0]]) for p in pairs] + [(0, None)],
        method="highs",
    )
    if res.status != 0:
        return None
    return dict(zip(pairs, (float(v) for v in res.x[:n])))


def to_whole_samples(tasks: Sequence[TaskSpec], devices: Sequence[DeviceSpec], x: dict[Pair, float]) -> dict[Pair, int]:
    """Rounds a split to whole samples: floors, then each left-over sample to where it ends soonest.

    A sample on a slow device can cost a tenth of the round (a K80 step of a Transformer), so the
    left-overs go one by one to the pair whose device would finish earliest with it, within memory.
    """
    by_task = {t.name: t for t in tasks}
    kind = {d.name: d.type for d in devices}
    room = {d.name: float(d.memory_bytes) for d in devices}
    whole = {q: math.floor(v + 1e-9) for q, v in x.items()}
    busy = dict.fromkeys(kind, 0.0)
    prof = {q: by_task[q[0]].profile(kind[q[1]]) for q in x}
    for q, n in whole.items():
        busy[q[1]] += prof[q].step_s(n)  # type: ignore[union-attr]
        room[q[1]] -= prof[q].memory_bytes(n)  # type: ignore[union-attr]
    for t in tasks:
        mine = [q for q in x if q[0] == t.name]
        for _ in range(t.global_batch - sum(whole[q] for q in mine)):

            def cost(q: Pair) -> tuple[float, float]:
                p = prof[q]
                extra = p.step_s(whole[q] + 1) - p.step_s(whole[q])  # type: ignore[union-attr]
                grow = p.memory_bytes(whole[q] + 1) - p.memory_bytes(whole[q])  # type: ignore[union-attr]
                return (busy[q[1]] + extra if grow <= room[q[1]] else math.inf, -x[q] + whole[q])

            q = min(mine, key=cost)
            p = prof[q]
            busy[q[1]] += p.step_s(whole[q] + 1) - p.step_s(whole[q])  # type: ignore[union-attr]
            room[q[1]] -= p.memory_bytes(whole[q] + 1) - p.memory_bytes(whole[q])  # type: ignore[union-attr]
            whole[q] += 1
    return {q: n for q, n in whole.items() if n > 0}
