"""stoker.train.profile on the CPU: saved-tensor memory accounting is exact for a known model."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import stoker.train
from stoker.train.hetero import SimulatedDevice
from stoker.train.profiling import ProfileTask, profile

X = torch.randn(256, 64)
Y = torch.randint(0, 10, (256,))


def _mlp_task() -> ProfileTask:
    # Views of X: the accounting must count the batch, not the whole host tensor behind it.
    return ProfileTask(
        "mlp",
        lambda: nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10)),
        lambda n: (X[:n], Y[:n]),
    )


def test_memory_per_sample_and_fixed_match_the_model() -> None:
    prof = profile(_mlp_task(), "cpu", batch_sizes=(4, 16, 64), warmup=1, repeats=1)
    # Per sample: input (64 fp32) + target (int64) + ReLU output (32 fp32) + log-softmax output (10 fp32).
    assert prof.mem_per_sample_bytes == 64 * 4 + 8 + 32 * 4 + 10 * 4
    params = (64 * 32 + 32 + 32 * 10 + 10) * 4
    # Weights, gradients and the momentum buffer, plus the loss's 4-byte total-weight scalar.
    assert params * 3 <= prof.mem_fixed_bytes <= params * 3 + 64
    assert prof.task == "mlp" and prof.device_type == "cpu"
    assert "saved-tensor accounting" in prof.source
    assert prof.step_fixed_s >= 0 and prof.step_per_sample_s >= 0 and prof.step_s(64) > 0


def test_simulated_device_scales_time_and_keeps_memory() -> None:
    sim = SimulatedDevice("sim-quarter", 0.25, 2**30)
    prof = profile(_mlp_task(), sim, batch_sizes=(4, 16), warmup=1, repeats=1)
    assert prof.device_type == "sim-quarter" and "simulated sim-quarter on cpu" in prof.source
    assert prof.mem_per_sample_bytes == 64 * 4 + 8 + 32 * 4 + 10 * 4
    host = profile(_mlp_task(), "cpu", batch_sizes=(4, 16), warmup=1, repeats=1)
    scaled = sim.scale(host)
    assert scaled.step_s(16) == pytest.approx(4 * host.step_s(16))
    assert scaled.memory_bytes(16) == host.memory_bytes(16) and scaled.device_type == "sim-quarter"


def test_public_name_and_argument_errors() -> None:
    assert stoker.train.profile is profile
    with pytest.raises(ValueError, match="batch_sizes"):
        profile(_mlp_task(), "cpu", batch_sizes=(8, 8))
    with pytest.raises(ValueError, match="repeats=0"):
        profile(_mlp_task(), "cpu", repeats=0)
    with pytest.raises(ValueError, match="should start with 'sim-'"):
        SimulatedDevice("fast", 2.0, 2**30)
