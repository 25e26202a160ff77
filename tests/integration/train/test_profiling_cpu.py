"""Real CPU measurements: the fitted step-time line predicts a batch size it was not fitted on."""

from __future__ import annotations

import torch
from sklearn.datasets import load_digits
from torch import nn

from stoker.train.profiling import ProfileTask, profile


def test_cpu_profile_of_a_cnn_on_digits_predicts_an_unseen_batch() -> None:
    # One intra-op thread: two threads on a shared 2-core machine make step times jump 100x.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _check_cnn_profile()
    finally:
        torch.set_num_threads(threads)


def _check_cnn_profile() -> None:
    digits = load_digits()
    x = torch.tensor(digits.data, dtype=torch.float32).reshape(-1, 1, 8, 8) / 16
    y = torch.tensor(digits.target)

    def model() -> nn.Module:
        return nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(64 * 64, 10),
        )

    task = ProfileTask("digits-cnn", model, lambda n: (x[:n], y[:n]))
    prof = profile(task, "cpu", batch_sizes=(32, 64, 128, 256), warmup=2, repeats=7)
    assert prof.step_per_sample_s > 0
    # Held-out batch 192, measured the same way; a shared 2-core machine is noisy, hence the margin.
    check = profile(task, "cpu", batch_sizes=(192, 193), warmup=2, repeats=7)
    measured = check.step_s(192)
    assert 0.6 * measured <= prof.step_s(192) <= 1.6 * measured, (prof, measured)
    # Activation memory grows with the batch: two conv outputs of 32 and 64 channels at 8x8, fp32.
    assert prof.mem_per_sample_bytes >= (32 + 64) * 64 * 4
