"""The round model: what an allocation costs in step time and memory.

One *round* runs one step of every task. A device serves its shares of the tasks one after
another, so its busy time is the sum of its shares' step times; all shares are resident at once,
so its memory is the sum of their memory. A task's step ends when the last device serving it is
done (its gradients are then reduced), so a task's step time is the largest busy time among its
devices and the round time is the largest busy time of any device. Balanced finish means no
device is busy much longer than the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from stoker.train.hetero.records import Allocation, DeviceSpec, InfeasibleError, TaskSpec


@dataclass(frozen=True)
class Evaluation:
    """Predicted cost of an allocation under the round model.

    Attributes:
        round_s: Longest device busy time: the step time every task sees when they step together, s.
        task_step_s: Task name -> largest busy time among the devices serving it, seconds.
        device_busy_s: Device name -> seconds of work per round.
        device_memory_bytes: Device name -> bytes its resident shares need.
    """

    round_s: float
    task_step_s: dict[str, float]
    device_busy_s: dict[str, float]
    device_memory_bytes: dict[str, int]


def validate(tasks: Sequence[TaskSpec], devices: Sequence[DeviceSpec]) -> None:
    """Raises ``ValueError`` naming the bad record when the inputs cannot be allocated at all."""
    if not tasks:
        raise ValueError("tasks is empty; pass at least one TaskSpec")
    if not devices:
        raise ValueError("devices is empty; pass at least one DeviceSpec")
    for kind, names in (("task", [t.name for t in tasks]), ("device", [d.name for d in devices])):
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"{kind} names {dupes} are repeated; give every {kind} a unique name")
    for d in devices:
        if d.memory_bytes <= 0:
            raise ValueError(f"device {d.name!r}: memory_bytes={d.memory_bytes} should be > 0")
    types = {d.type for d in devices}
    for t in tasks:
        if t.global_batch < 1:
            raise ValueError(f"task {t.name!r}: global_batch={t.global_batch} should be >= 1")
        if not types & set(t.profiles):
            raise InfeasibleError(
                f"task {t.name!r} has profiles for {sorted(t.profiles)} but the devices are of types "
                f"{sorted(types)}; profile it on one of those types (stoker.train.profile) "
                "or add such a device"
            )


def evaluate(allocation: Allocation, tasks: Sequence[TaskSpec], devices: Sequence[DeviceSpec]) -> Evaluation:
    """Predicts step times and memory of ``allocation`` under the round model.

    Raises:
        ValueError: A share names an unknown task or device, a device without the task's profile,
            or a task's shares do not add up to its global batch.
    """
    by_task = {t.name: t for t in tasks}
    by_dev = {d.name: d for d in devices}
    busy = {d.name: 0.0 for d in devices}
    mem = {d.name: 0 for d in devices}
    served = {t.name: 0 for t in tasks}
    for s in allocation.shares:
        if s.task not in by_task or s.device not in by_dev:
            raise ValueError(f"share {s} names an unknown task or device")
        prof = by_task[s.task].profile(by_dev[s.device].type)
        if prof is None and s.batch > 0:
            raise ValueError(f"share {s}: task has no profile for type {by_dev[s.device].type!r}")
        if prof is not None:
            busy[s.device] += prof.step_s(s.batch)
            mem[s.device] += prof.memory_bytes(s.batch)
        served[s.task] += s.batch
    for t in tasks:
        if served[t.name] != t.global_batch:
            raise ValueError(f"task {t.name!r}: shares sum to {served[t.name]}, not {t.global_batch=}")
    step = {t: max((busy[d] for d in allocation.task_shares(t)), default=0.0) for t in by_task}
    return Evaluation(max(busy.values()), step, busy, mem)


def check_memory(allocation: Allocation, tasks: Sequence[TaskSpec], devices: Sequence[DeviceSpec]) -> None:
    """Raises :class:`InfeasibleError` naming the first device whose shares do not fit its memory."""
    used = evaluate(allocation, tasks, devices).device_memory_bytes
    for d in devices:
        if used[d.name] > d.memory_bytes:
            raise InfeasibleError(
                f"policy {allocation.policy!r}: device {d.name!r} would need {used[d.name] / 2**30:.2f} GiB "
                f"for tasks {allocation.device_shares(d.name)} but holds {d.memory_bytes / 2**30:.2f} GiB; "
                "use a policy that respects memory (e.g. 'balanced') or smaller global batches"
            )
