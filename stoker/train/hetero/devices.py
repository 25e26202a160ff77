"""Devices as allocation records: real ones (``cpu``, ``cuda:N``) and clearly named simulated ones.

A :class:`SimulatedDevice` runs its work on a real host device (the CPU here) and reports step
times divided by its ``speed``; its memory is a number you choose. It exists so tests and demos
can show a mixed fleet on a machine without GPUs; its figures are never a GPU's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from stoker.train.hetero.records import DeviceSpec, Profile

SIM_PREFIX = "sim-"


@dataclass(frozen=True)
class SimulatedDevice:
    """A stand-in accelerator: real work on ``host``, time scaled by ``1 / speed``, memory ``memory_bytes``.

    Attributes:
        name: Unique name starting with ``"sim-"`` (also its device type), e.g. ``"sim-half"``.
        speed: Speed relative to ``host``: 0.5 means steps take twice the host's time.
        memory_bytes: Memory it pretends to have, bytes.
        host: The real torch device that runs the work.
    """

    name: str
    speed: float
    memory_bytes: int
    host: str = "cpu"

    def __post_init__(self) -> None:
        if not self.name.startswith(SIM_PREFIX):
            raise ValueError(f"SimulatedDevice name {self.name!r} should start with {SIM_PREFIX!r}")
        if not self.speed > 0:
            raise ValueError(f"SimulatedDevice {self.name!r}: speed={self.speed} should be > 0")
        if self.memory_bytes <= 0:
            raise ValueError(f"SimulatedDevice {self.name!r}: memory_bytes={self.memory_bytes} should be > 0")

    def scale(self, host_profile: Profile) -> Profile:
        """This device's profile from one measured on its host: times / speed, same memory.

        Cheaper and steadier than profiling every simulated device again on the same host.
        """
        return replace(
            host_profile,
            device_type=self.name,
            step_fixed_s=host_profile.step_fixed_s / self.speed,
            step_per_sample_s=host_profile.step_per_sample_s / self.speed,
            source=f"{host_profile.source}, simulated {self.name} (speed {self.speed})",
        )


def device_type(device: Any) -> str:
    """Profile key of a device: ``"cpu"``, the CUDA model (``"nvidia-h100-80gb-hbm3"``) or the sim name."""
    if isinstance(device, SimulatedDevice):
        return device.name
    import torch

    dev = torch.device(device)
    if dev.type == "cuda":
        name = torch.cuda.get_device_name(dev)
        return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return dev.type


def host_device(device: Any) -> Any:
    """The torch device that really runs work for ``device``."""
    import torch

    return torch.device(device.host if isinstance(device, SimulatedDevice) else device)


def speed_of(device: Any) -> float:
    """Factor that measured seconds on the host are divided by (1 for real devices)."""
    return device.speed if isinstance(device, SimulatedDevice) else 1.0


def device_spec(device: Any) -> DeviceSpec:
    """The allocation record of a real device (``"cpu"``, ``"cuda:0"``) or a :class:`SimulatedDevice`.

    CUDA memory is the device's total memory; CPU memory is the host memory available now.
    """
    if isinstance(device, SimulatedDevice):
        return DeviceSpec(device.name, device.name, device.memory_bytes)
    import torch

    dev = torch.device(device)
    if dev.type == "cuda":
        total = torch.cuda.get_device_properties(dev).total_memory
        return DeviceSpec(str(dev), device_type(dev), int(total))
    if dev.type == "cpu":
        import psutil

        return DeviceSpec("cpu", "cpu", int(psutil.virtual_memory().available))
    raise ValueError(f"device {device!r}: only 'cpu', 'cuda:N' and SimulatedDevice are supported")
