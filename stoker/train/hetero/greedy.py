"""Greedy fill: deal each task's batch to devices in order of preference within a round time.

For a given round time ``T`` each task in turn takes, device by device in its order of preference,
as many samples as fit in the device's remaining time (``(T_left - a) / b``) and memory; a device
left with time and memory serves the next task too. Bisecting on ``T`` gives the shortest round
this fill reaches for one task order. It tries every task order (up to four tasks) under two
device orders, fastest first and comparative advantage first (where this task is fastest
*relative to the other tasks*, as in Gavel). Shares are whole samples and never exceed memory.
Pure Python: the balanced policy's first seed, and the source of its infeasibility diagnosis.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from stoker.train.hetero.cost import evaluate
from stoker.train.hetero.records import Allocation, DeviceSpec, InfeasibleError, Share, TaskSpec

NAME = "greedy"
_MAX_PERMUTED_TASKS = 4  # 4! orders x 2 device orders x ~40 bisection steps stays well under 0.1 s
_BISECT_STEPS = 40

Order = list[DeviceSpec]


def greedy_fill(tasks: Sequence[TaskSpec], devices: Sequence[DeviceSpec]) -> Allocation | None:
    """The shortest-round greedy allocation over task and device orders; ``None`` if none fits memory."""
    best: tuple[float, Allocation] | None = None
    for order in _task_orders(tasks, devices):
        for prefer in (_fastest_first, _advantage_first):
            prefs = {t.name: prefer(t, tasks, devices) for t in order}
            found = _bisect(order, prefs, tasks, devices)
            if found is not None and (best is None or found[0] < best[0]):
                best = found
    return None if best is None else best[1]


def _fill(T: float, order: Sequence[TaskSpec], prefs: dict[str, Order]) -> list[Share] | None:
    """Deals every task's batch within round time ``T``; ``None`` when some task does not fit."""
    time_left: dict[str, float] = {}
    mem_left: dict[str, float] = {}
    shares = []
    for task in order:
        need = task.global_batch
        for dev in prefs[task.name]:
            prof = task.profile(dev.type)
            if prof is None:
                continue
            t_left = time_left.setdefault(dev.name, T) - prof.step_fixed_s
            by_time = math.inf if prof.step_per_sample_s == 0 else t_left / prof.step_per_sample_s
            by_mem = prof.max_batch(mem_left.setdefault(dev.name, dev.memory_bytes))
            n = int(min(need, by_time, by_mem)) if t_left > 0 else 0
            if n < 1:
                continue
            shares.append(Share(task.name, dev.name, n))
            time_left[dev.name] -= prof.step_s(n)
            mem_left[dev.name] -= prof.memory_bytes(n)
            need -= n
            if need == 0:
                break
        if need > 0:
            return None
    return shares


def _bisect(order, prefs, tasks, devices) -> tuple[float, Allocation] | None:
    """Smallest round time the greedy fill reaches for one task order, with its allocation."""
    shares = _fill(math.inf, order, prefs)
    if shares is None:
        return None
    best = Allocation(NAME, tuple(shares))
    lo, hi = 0.0, evaluate(best, tasks, devices).round_s
    for _ in range(_BISECT_STEPS):
        mid = (lo + hi) / 2
        shares = _fill(mid, order, prefs)
        if shares is None:
            lo = mid
            continue
        best = Allocation(NAME, tuple(shares))
        # The fill may land below mid (whole samples); jump straight to what it achieved.
        hi = min(mid, evaluate(best, tasks, devices).round_s)
        if hi - lo <= 1e-6 * hi:
            break
    return hi, best


def _task_orders(tasks: Sequence[TaskSpec], devices: Sequence[DeviceSpec]):
    if len(tasks) <= _MAX_PERMUTED_TASKS:
        return itertools.permutations(tasks)

    # Too many orders to try: place the tasks with the most work (on their best device) first.
    def work(t: TaskSpec) -> float:
        costs = [p.step_s(t.global_batch) for d in devices if (p := t.profile(d.type)) is not None]
        return min(costs, default=0.0)

    by_work = sorted(tasks, key=work, reverse=True)
    return [by_work, sorted(tasks, key=lambda t: t.global_batch, reverse=True)]


def _speed(task: TaskSpec, dev: DeviceSpec) -> float:
    """Samples per second of ``task`` on ``dev`` at the margin (0 when it has no profile there)."""
    prof = task.profile(dev.type)
    if prof is None:
        return 0.0
    return math.inf if prof.step_per_sample_s == 0 else 1.0 / prof.step_per_sample_s


def _fastest_first(task: TaskSpec, tasks: Sequence[TaskSpec], devices: Sequence[DeviceSpec]) -> Order:
    return sorted(devices, key=lambda d: -_speed(task, d))


def _advantage_first(task: TaskSpec, tasks: Sequence[TaskSpec], devices: Sequence[DeviceSpec]) -> Order:
    def normalised(t: TaskSpec, d: DeviceSpec) -> float:
        top = max(_speed(t, e) for e in devices)
        return _speed(t, d) / top if top > 0 and math.isfinite(top) else 1.0

    def advantage(d: DeviceSpec) -> float:
        mean = sum(normalised(t, d) for t in tasks) / len(tasks)
        return normalised(task, d) / mean if mean > 0 else 0.0

    def key(d: DeviceSpec) -> tuple[float, float]:
        return (-advantage(d), -_speed(task, d))

    return sorted(devices, key=key)


def diagnose(tasks: Sequence[TaskSpec], devices: Sequence[DeviceSpec]) -> InfeasibleError:
    """Names the task that does not fit even alone, or the group that does not fit together."""
    for task in tasks:
        caps = {d.name: p.max_batch(d.memory_bytes) for d in devices if (p := task.profile(d.type)) is not None}
        room = sum(caps.values())
        if room < task.global_batch:
            fit = {k: int(v) for k, v in caps.items()}
            return InfeasibleError(
                f"task {task.name!r}: global_batch={task.global_batch} does not fit in the memory of the "
                f"devices it can use even alone (at most {int(room)} samples: {fit}); "
                "lower its global batch, add devices with more memory, swap activations to host memory "
                "(stoker.train swap) or accumulate gradients over smaller steps"
            )
    return InfeasibleError(
        f"tasks {[t.name for t in tasks]} each fit alone but not together in the memory of devices "
        f"{[d.name for d in devices]}; allocate them on more devices or in separate rounds "
        "(one allocate() call per group), or lower their global batches"
    )
