"""Profiles from Gavel's measured throughputs (K80 / P100 / V100).

The file ``gavel_isolated_throughputs.json`` (read by :func:`stoker.gavel_data.load_throughputs`) holds
stanford-futuredata/gavel's ``scheduler/simulation_throughputs.json`` (Narayanan et al., OSDI'20): steps
per second of each (model, batch size) running alone on one GPU of each type. Step time is fitted as ``a + b * batch``
over the batch sizes Gavel measured (scale factor 1 = one GPU).

Gavel records no memory. :data:`MEMORY_ESTIMATES` are *estimates*, not measurements: fixed memory
from the parameter count (weights, gradients, two optimizer slots, fp32) plus ~0.5 GiB of CUDA
context and workspace, and per-sample memory chosen so that the largest batch Gavel ran fits a
12 GiB K80 die, as it did in Gavel's runs. Pass your own to :func:`gavel_profiles` when you know better.
"""

from __future__ import annotations

from collections.abc import Mapping

from stoker.gavel_data import load_throughputs
from stoker.train.hetero.fit import fit_line
from stoker.train.hetero.records import DeviceSpec, Profile

_MIB = 2**20
_GIB = 2**30

# model -> (fixed bytes, bytes per sample); see the module docstring for where they come from.
MEMORY_ESTIMATES: dict[str, tuple[int, int]] = {
    "ResNet-18": (700 * _MIB, 40 * _MIB),  # 11.7 M params; batch 256 on a K80
    "ResNet-50": (900 * _MIB, 85 * _MIB),  # 25.6 M params; batch 128 on a K80
    "Transformer": (1400 * _MIB, 40 * _MIB),  # ~60 M params; batch 256 on a K80
    "LM": (1100 * _MIB, 120 * _MIB),  # ~40 M params (large vocabulary); batch 80 on a K80
    "Recommendation": (1000 * _MIB, 1 * _MIB),  # embedding tables; batch 8192 on a K80
}

# Memory of one GPU of each type Gavel measured (a K80 board is two 12 GiB GPUs), bytes.
GPU_MEMORY_BYTES: dict[str, int] = {"k80": 12 * _GIB, "p100": 16 * _GIB, "v100": 16 * _GIB}

__all__ = ["GPU_MEMORY_BYTES", "MEMORY_ESTIMATES", "gavel_devices", "gavel_profiles", "load_throughputs"]


def gavel_profiles(
    model: str,
    throughputs: Mapping[str, Mapping[tuple[str, int], float]],
    memory: Mapping[str, tuple[int, int]] = MEMORY_ESTIMATES,
) -> dict[str, Profile]:
    """Profile of ``model`` (e.g. ``"ResNet-50"``) on every GPU type in ``throughputs``.

    Raises:
        ValueError: The model is unknown, has fewer than two batch sizes, or has no memory estimate.
    """
    if model not in memory:
        raise ValueError(f"no memory estimate for {model!r}; pass memory={{{model!r}: (fixed, per_sample)}}")
    fixed, per_sample = memory[model]
    prefix = f"{model} (batch size "
    profiles = {}
    for gpu, rows in throughputs.items():
        points = sorted(
            (int(name[len(prefix) : -1]), 1.0 / rate)
            for (name, scale), rate in rows.items()
            if scale == 1 and name.startswith(prefix) and rate > 0
        )
        if len(points) < 2:
            raise ValueError(f"{model!r} has {len(points)} batch sizes on {gpu!r}; need >= 2 to fit a line")
        a, b = fit_line([x for x, _ in points], [y for _, y in points])
        profiles[gpu] = Profile(model, gpu, a, b, fixed, per_sample, source=f"gavel {gpu} (memory estimated)")
    return profiles


def gavel_devices(counts: Mapping[str, int]) -> list[DeviceSpec]:
    """Devices named ``<type>-<i>`` for ``{"k80": 2, "v100": 1, ...}``, with each type's memory."""
    return [DeviceSpec(f"{k}-{i}", k, GPU_MEMORY_BYTES[k]) for k, n in counts.items() for i in range(n)]
