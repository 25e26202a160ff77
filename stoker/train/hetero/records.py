"""Plain records that heterogeneous allocation policies read and return.

Nothing here imports torch: the cluster scheduler and its simulator build these records from
profile files and call the policies without a GPU or a model in sight.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field


class InfeasibleError(ValueError):
    """No allocation satisfies the memory limits; the message names the task, the device and the way out."""


@dataclass(frozen=True)
class Profile:
    """What one training step of one task costs on one device type, linear in the device's batch share.

    ``step_s(n) = step_fixed_s + step_per_sample_s * n`` and
    ``memory_bytes(n) = mem_fixed_bytes + mem_per_sample_bytes * n`` for a share of ``n >= 1`` samples;
    a device that serves no sample of the task pays neither.

    Attributes:
        task: Name of the task (model + settings) measured.
        device_type: Device type the figures hold for, e.g. ``"v100"``, ``"cpu"``, ``"sim-half"``.
        step_fixed_s: Per-step cost independent of the share (kernel launches, optimizer step), seconds.
        step_per_sample_s: Cost of each sample of the share, seconds per sample.
        mem_fixed_bytes: Memory a replica holds at any share (weights, gradients, optimizer state), bytes.
        mem_per_sample_bytes: Memory each sample of the share adds (inputs, saved activations), bytes.
        source: Where the figures come from, e.g. ``"measured cuda:0 (max_memory_allocated)"``,
            ``"gavel"``, ``"simulated"``.
    """

    task: str
    device_type: str
    step_fixed_s: float
    step_per_sample_s: float
    mem_fixed_bytes: int
    mem_per_sample_bytes: int
    source: str = ""

    def __post_init__(self) -> None:
        for name in ("step_fixed_s", "step_per_sample_s", "mem_fixed_bytes", "mem_per_sample_bytes"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"Profile({self.task!r}, {self.device_type!r}): {name}={value!r} should be >= 0")

    def step_s(self, batch: int) -> float:
        """Seconds one step with ``batch`` samples takes on this device (0 when it serves none)."""
        return 0.0 if batch <= 0 else self.step_fixed_s + self.step_per_sample_s * batch

    def memory_bytes(self, batch: int) -> int:
        """Bytes a share of ``batch`` samples needs on this device (0 when it serves none)."""
        return 0 if batch <= 0 else self.mem_fixed_bytes + self.mem_per_sample_bytes * batch

    def max_batch(self, free_bytes: float) -> float:
        """Largest share that fits in ``free_bytes`` (``inf`` when samples cost no memory; 0 if none fits)."""
        room = free_bytes - self.mem_fixed_bytes
        if room < 0:
            return 0.0
        if self.mem_per_sample_bytes == 0:
            return math.inf
        return float(room // self.mem_per_sample_bytes)


@dataclass(frozen=True)
class DeviceSpec:
    """One accelerator an allocation may use.

    Attributes:
        name: Unique name, e.g. ``"cuda:0"`` or ``"node3/v100-1"``.
        type: Device type, the key into each task's profiles.
        memory_bytes: Memory available to training on this device, bytes.
    """

    name: str
    type: str
    memory_bytes: int


@dataclass(frozen=True)
class TaskSpec:
    """One training task to place.

    Attributes:
        name: Unique task name.
        global_batch: Samples per step over all the task's devices.
        profiles: Profile per device type; a device type missing here cannot serve this task.
    """

    name: str
    global_batch: int
    profiles: Mapping[str, Profile] = field(hash=False)

    def profile(self, device_type: str) -> Profile | None:
        """The task's profile on ``device_type``, or ``None`` when it was not profiled there."""
        return self.profiles.get(device_type)


@dataclass(frozen=True)
class Share:
    """``batch`` samples of each step of ``task`` run on ``device``."""

    task: str
    device: str
    batch: int


@dataclass(frozen=True)
class Allocation:
    """Which devices serve which task, and each device's share of each global batch.

    Attributes:
        policy: Name of the policy that produced it.
        shares: Non-zero shares only; the shares of a task sum to its global batch.
    """

    policy: str
    shares: tuple[Share, ...]

    def task_shares(self, task: str) -> dict[str, int]:
        """Device name -> samples per step for ``task``."""
        return {s.device: s.batch for s in self.shares if s.task == task and s.batch > 0}

    def device_shares(self, device: str) -> dict[str, int]:
        """Task name -> samples per step that ``device`` serves."""
        return {s.task: s.batch for s in self.shares if s.device == device and s.batch > 0}
