"""Local search over supports: which (task, device) pairs serve, scored after re-balancing.

Starting from a whole-sample allocation, it tries dropping a pair, moving a pair to another device
and adding a pair; each candidate support gets its best split (:mod:`.split_lp`), rounded to whole
samples and kept if the round gets shorter. Fixed per-step costs make *which* devices serve a
task as important as the split, and a greedy fill alone gets that wrong by up to ~1.3x on
Gavel's profiles; this search closes most of that gap.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator, Sequence

from stoker.train.hetero.records import DeviceSpec, TaskSpec
from stoker.train.hetero.split_lp import Pair, split_on_support, to_whole_samples

Shares = dict[Pair, int]  # (task, device) -> samples per step
Scored = tuple[tuple[float, ...], Shares]  # (busy times longest first, shares)


def round_time(tasks: Sequence[TaskSpec], devices: Sequence[DeviceSpec], x: dict[Pair, int]) -> float:
    """Longest device busy time of whole-sample shares ``x``, or ``inf`` if some device's memory overflows."""
    return busy_times(tasks, devices, x)[0]


def busy_times(tasks: Sequence[TaskSpec], devices: Sequence[DeviceSpec], x: dict[Pair, int]) -> tuple[float, ...]:
    """Device busy times of ``x``, longest first (``(inf,)`` if some device's memory overflows).

    Compared as tuples they order allocations by round time, then by the next-longest device:
    a move that shortens a device other than the longest is progress too, so the search does
    not stall on plateaus of the max.
    """
    by_task = {t.name: t for t in tasks}
    busy = {d.name: 0.0 for d in devices}
    mem = {d.name: 0 for d in devices}
    kind = {d.name: d.type for d in devices}
    for (t, d), n in x.items():
        prof = by_task[t].profile(kind[d])
        if prof is None:
            return (float("inf"),)
        busy[d] += prof.step_s(n)
        mem[d] += prof.memory_bytes(n)
    if any(mem[d.name] > d.memory_bytes for d in devices):
        return (float("inf"),)
    return tuple(sorted(busy.values(), reverse=True))


def _neighbours(tasks: Sequence[TaskSpec], devices: Sequence[DeviceSpec], support: set[Pair]) -> Iterator[set[Pair]]:
    usable = [(t.name, d.name) for t in tasks for d in devices if t.profile(d.type) is not None]
    count = {t.name: sum(1 for p in support if p[0] == t.name) for t in tasks}
    for pair in sorted(support):
        if count[pair[0]] > 1:
            yield support - {pair}
    for pair in sorted(support):
        for other in usable:
            if other[0] == pair[0] and other not in support:
                yield (support - {pair}) | {other}
    for other in usable:
        if other not in support:
            yield support | {other}
    for p, q in itertools.combinations(sorted(support), 2):  # two tasks trade devices
        swapped = {(p[0], q[1]), (q[0], p[1])}
        if p[0] != q[0] and p[1] != q[1] and swapped <= set(usable) and not swapped & support:
            yield (support - {p, q}) | swapped


def local_search(
    tasks: Sequence[TaskSpec],
    devices: Sequence[DeviceSpec],
    start: Shares,
    max_moves: int = 50,
    seen: set[frozenset] | None = None,
) -> Shares:
    """The best whole-sample shares found from ``start`` (first-improvement hill climbing).

    ``seen`` collects the supports already solved, up to swapping devices of the same type that
    serve the same tasks (their LPs are the same); pass one set to several searches over the same
    tasks and devices so that none is solved twice.
    """
    seen = set() if seen is None else seen
    kind = {d.name: d.type for d in devices}

    def score(support: set[Pair]) -> Scored | None:
        served: dict[str, set[str]] = {}
        for t, d in support:
            served.setdefault(d, set()).add(t)
        key = frozenset(Counter((kind[d], frozenset(ts)) for d, ts in served.items()).items())
        if key in seen:
            return None
        seen.add(key)
        return score_support(tasks, devices, support)

    best, best_s = start, busy_times(tasks, devices, start)
    polished = score(set(start))
    if polished is not None and _better(polished[0], best_s):
        best_s, best = polished
    for _ in range(max_moves):
        for support in _neighbours(tasks, devices, set(best)):
            cand = score(support)
            if cand is not None and _better(cand[0], best_s):
                best_s, best = cand
                break
        else:
            break
    return best


def score_support(tasks: Sequence[TaskSpec], devices: Sequence[DeviceSpec], support: set[Pair]) -> Scored | None:
    """Busy times and whole-sample shares of the best split on ``support``; ``None`` if it cannot fit."""
    settled = split_on_support(tasks, devices, support)
    if settled is None:
        return None
    whole = to_whole_samples(tasks, devices, settled)
    return busy_times(tasks, devices, whole), whole


def _better(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    for u, v in zip(a, b):
        if u < v * (1 - 1e-9):
            return True
        if u > v * (1 + 1e-9):
            return False
    return False
