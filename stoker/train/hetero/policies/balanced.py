"""Balanced finish: every device of a round is busy about as long as the others (the default policy).

Called through :func:`stoker.train.hetero.allocate` (``policy="balanced"``) by the trainer and by the
cluster scheduler's placement of multi-GPU jobs on mixed GPU types. Three seeds, each a whole-sample
allocation that fits memory: the greedy fill (:mod:`..greedy`), the support left by spreading
fixed costs over samples (:func:`..split_lp.linearised_support`) and the best whole-type placement
(:mod:`.per_type`). Each is improved by local search over which devices serve which task, with the
best split of every support from a small LP (:mod:`..search`); the shortest round wins.
Polynomial in tasks x devices, unlike the exact MILP of :mod:`.optimal`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from stoker.train.hetero.cost import validate
from stoker.train.hetero.greedy import diagnose, greedy_fill
from stoker.train.hetero.policies import per_type
from stoker.train.hetero.records import Allocation, DeviceSpec, InfeasibleError, Share, TaskSpec
from stoker.train.hetero.search import Shares, busy_times, local_search, score_support
from stoker.train.hetero.split_lp import linearised_support

NAME = "balanced"


def allocate(tasks: Sequence[TaskSpec], devices: Sequence[DeviceSpec]) -> Allocation:
    """Shares of every task's global batch on ``devices`` minimising the round time.

    Raises:
        InfeasibleError: The tasks' batches do not fit the devices' memory; names the task and the way out.
    """
    validate(tasks, devices)
    greedy = greedy_fill(tasks, devices)
    if greedy is None:
        raise diagnose(tasks, devices)
    seeds: list[Shares] = [_pairs(greedy)]
    support = linearised_support(tasks, devices)
    if support is not None and (scored := score_support(tasks, devices, support)) is not None:
        seeds.append(scored[1])
    with contextlib.suppress(InfeasibleError):  # no whole-type placement fits: the other seeds still do
        seeds.append(_pairs(per_type.allocate(tasks, devices)))
    seen: set[frozenset] = set()
    improved = [local_search(tasks, devices, seed, seen=seen) for seed in seeds]
    best = min(improved, key=lambda x: busy_times(tasks, devices, x))
    return Allocation(NAME, tuple(Share(t, d, n) for (t, d), n in sorted(best.items())))


def _pairs(allocation: Allocation) -> Shares:
    return {(s.task, s.device): s.batch for s in allocation.shares}
