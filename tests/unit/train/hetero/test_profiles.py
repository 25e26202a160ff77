"""Profile records, the line fit and profiles from Gavel's throughputs."""

from __future__ import annotations

import json
import math

import pytest

from stoker.train.hetero import DeviceSpec, Profile, SimulatedDevice, device_spec
from stoker.train.hetero.fit import fit_line
from stoker.train.hetero.gavel import (
    GPU_MEMORY_BYTES,
    MEMORY_ESTIMATES,
    gavel_devices,
    gavel_profiles,
    load_throughputs,
)


def test_fit_line_recovers_a_line_and_keeps_costs_non_negative() -> None:
    a, b = fit_line([1, 2, 4, 8], [0.5 + 0.25 * x for x in [1, 2, 4, 8]])
    assert a == pytest.approx(0.5) and b == pytest.approx(0.25)
    a, b = fit_line([10, 20], [0.5, 2.0])  # would need a negative intercept: through the origin instead
    assert a == 0.0 and b > 0
    a, b = fit_line([10, 20], [2.0, 1.0])  # cost that falls with batch: flat at the mean
    assert (a, b) == (1.5, 0.0)
    with pytest.raises(ValueError, match="distinct batch sizes"):
        fit_line([4, 4], [1.0, 1.0])


def test_profile_costs_and_capacity() -> None:
    p = Profile("t", "g", 0.1, 0.01, 1000, 10)
    assert p.step_s(0) == 0 and p.step_s(10) == pytest.approx(0.2)
    assert p.memory_bytes(0) == 0 and p.memory_bytes(5) == 1050
    assert p.max_batch(1055) == 5 and p.max_batch(999) == 0
    assert math.isinf(Profile("t", "g", 0, 0, 10, 0).max_batch(20))
    with pytest.raises(ValueError, match="step_per_sample_s=-1"):
        Profile("t", "g", 0.0, -1, 0, 0)


def test_gavel_profiles_fit_the_measured_step_times(gavel: dict) -> None:
    profs = gavel_profiles("ResNet-50", gavel)
    assert set(profs) == {"k80", "p100", "v100"}
    for gpu, prof in profs.items():
        rate = gavel[gpu][("ResNet-50 (batch size 64)", 1)]
        assert prof.step_s(64) == pytest.approx(1 / rate, rel=0.25), gpu  # a line through 4 points
        assert (prof.mem_fixed_bytes, prof.mem_per_sample_bytes) == MEMORY_ESTIMATES["ResNet-50"]
    assert profs["v100"].step_s(128) < profs["p100"].step_s(128) < profs["k80"].step_s(128)


def test_memory_estimates_fit_every_batch_gavel_ran_on_a_k80(gavel: dict) -> None:
    for model, (fixed, per_sample) in MEMORY_ESTIMATES.items():
        sizes = [int(n.split("batch size ")[1][:-1]) for n, s in gavel["k80"] if s == 1 and n.startswith(f"{model} (")]
        assert fixed + per_sample * max(sizes) <= GPU_MEMORY_BYTES["k80"], model


def test_gavel_errors_name_the_way_out(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="STOKER_DATA_DIR"):
        load_throughputs(tmp_path / "missing.json")
    path = tmp_path / "g.json"
    path.write_text(json.dumps({"throughputs": {"k80": {"('A3C', 1)": 3.4}}}))
    with pytest.raises(ValueError, match="no memory estimate for 'A3C'"):
        gavel_profiles("A3C", load_throughputs(path))
    with pytest.raises(ValueError, match="has 0 batch sizes on 'k80'; need >= 2"):
        gavel_profiles("A3C", load_throughputs(path), memory={"A3C": (1, 1)})


def test_device_specs() -> None:
    assert gavel_devices({"k80": 2, "v100": 1}) == [
        DeviceSpec("k80-0", "k80", 12 * 2**30),
        DeviceSpec("k80-1", "k80", 12 * 2**30),
        DeviceSpec("v100-0", "v100", 16 * 2**30),
    ]
    assert device_spec(SimulatedDevice("sim-x", 1.0, 123)) == DeviceSpec("sim-x", "sim-x", 123)
    cpu = device_spec("cpu")
    assert cpu.type == "cpu" and cpu.memory_bytes > 0
