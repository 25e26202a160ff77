"""Measured job profiles: Synergy's CPU-sensitivity curves and Gavel's per-GPU-type throughputs.

Every mapping below is an assumption of the simulator; docs/simulator.md lists each one with its source.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from stoker.cluster.curve import Curve
from stoker.gavel_data import GAVEL_FILE, Throughputs, load_throughputs
from stoker.paths import data_file

SYNERGY_FILE = "synergy_cpu_sensitivity.json"

# Synergy model -> the Gavel workload closest to it (same family, batch size Gavel profiled most often).
GAVEL_WORKLOAD: Mapping[str, str] = {
    "alexnet": "ResNet-18 (batch size 64)",
    "res18": "ResNet-18 (batch size 64)",
    "mobilenet": "ResNet-18 (batch size 64)",
    "shufflenet": "ResNet-18 (batch size 64)",
    "res50": "ResNet-50 (batch size 64)",
    "m5": "ResNet-18 (batch size 64)",
    "deepspeech": "LM (batch size 20)",
    "lstm": "LM (batch size 20)",
    "gnmt": "Transformer (batch size 64)",
    "transformer": "Transformer (batch size 64)",
    "bert": "Transformer (batch size 64)",
    "vae": "CycleGAN",
}

# Trace GPU model -> (Gavel GPU family whose per-workload ratios it takes, scale on that family).
# T4 and A10 are not in Gavel: scaled from the closest family by FP32 peak (NVIDIA datasheets:
# P100 PCIe 9.3 TFLOPS, T4 8.1, V100 PCIe 14, A10 31.2). G2/G3 are anonymised in the trace: taken as
# V100-class (the trace's 8-GPU servers, like V100M32 nodes).
GPU_FAMILY: Mapping[str, tuple[str, float]] = {
    "P100": ("p100", 1.0),
    "T4": ("p100", 8.1 / 9.3),
    "V100M16": ("v100", 1.0),
    "V100M32": ("v100", 1.0),
    "G2": ("v100", 1.0),
    "G3": ("v100", 1.0),
    "A10": ("v100", 31.2 / 14.0),
}
REFERENCE_FAMILY = "v100"


@dataclass(frozen=True)
class Profiles:
    """The measured profiles one simulation draws from.

    Attributes:
        curves: (model, GPUs) -> throughput over CPUs per GPU (Synergy, 1 = 3 CPUs per GPU).
        speeds: model -> trace GPU type -> step rate relative to the reference (V100) family.
    """

    curves: Mapping[tuple[str, int], Curve]
    speeds: Mapping[str, Mapping[str, float]]

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(sorted({m for m, _ in self.curves}))

    def curve(self, model: str, gpus: float) -> Curve:
        """The profile of ``model`` measured with the most GPUs not above ``gpus`` (at least 1)."""
        counts = sorted(g for m, g in self.curves if m == model)
        if not counts:
            raise KeyError(f"no Synergy profile for {model=}; known: {self.models}")
        fit = [g for g in counts if g <= max(gpus, 1)]
        return self.curves[(model, fit[-1] if fit else counts[0])]


def _synergy_curves(raw: dict) -> dict[tuple[str, int], Curve]:
    grid = [float(x) for x in raw["cpus_per_gpu_grid"]]
    mem_col = raw["mem_gb_per_gpu_grid"].index(62.5)  # the GPU-proportional memory share
    curves: dict[tuple[str, int], Curve] = {}
    for entry in raw["profiles"]["models"]:
        ys = [row[mem_col] for row in entry["tput"]]
        # A 0 means Synergy's 8-GPU server had too few CPUs to measure that point: cut the curve there.
        n = next((i for i, y in enumerate(ys) if y <= 0), len(ys))
        curves[(entry["model"], int(entry["gpus"]))] = Curve(tuple(grid[:n]), tuple(float(y) for y in ys[:n]))
    return curves


def _gavel_speeds(table: Throughputs, models: tuple[str, ...]) -> dict[str, dict[str, float]]:
    speeds: dict[str, dict[str, float]] = {}
    for model in models:
        key = (GAVEL_WORKLOAD[model], 1)
        ref = table[REFERENCE_FAMILY][key]
        speeds[model] = {gpu: round(table[family][key] / ref * scale, 4) for gpu, (family, scale) in GPU_FAMILY.items()}
    return speeds


def load_profiles(directory: str | Path | None = None) -> Profiles:
    """Reads Synergy's and Gavel's files from ``directory`` (default: :func:`stoker.paths.data_file`, which
    falls back to the copies shipped in the package)."""
    if directory is None:
        paths = [data_file(SYNERGY_FILE), data_file(GAVEL_FILE)]
    else:
        paths = [Path(directory) / SYNERGY_FILE, Path(directory) / GAVEL_FILE]
    for path in paths:
        if not path.exists():
            raise FileNotFoundError(
                f"{path} not found; set STOKER_DATA_DIR or pass the folder holding {SYNERGY_FILE} and "
                f"{GAVEL_FILE} (docs/simulator.md says where to get them)"
            )
    curves = _synergy_curves(json.loads(paths[0].read_text()))
    models = tuple(sorted({m for m, _ in curves}))
    return Profiles(curves, _gavel_speeds(load_throughputs(paths[1]), models))
