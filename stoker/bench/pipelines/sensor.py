"""Sensor time series (the suite's sixth shape): load, band-pass, standardise, random window, jitter.

Six-channel 100 Hz recordings of 80 s (accelerometer and gyroscope-like: activity-dependent
oscillations, drift and noise), synthesised with numpy and saved as ``.npy`` files once. The
zero-phase Butterworth band-pass (scipy ``sosfiltfilt``) and the per-channel standardisation are
deterministic and cost most; the window, the per-channel scaling and the noise read the RNG.
"""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np
import torch

import stoker
from stoker.bench._util import bench_dir
from stoker.bench.pipelines._base import Case

NAME = "sensor"
RATE, SECONDS, CHANNELS, WINDOW = 100, 80, 6, 512


def make_recordings(root: str, count: int, seed: int = 0) -> list[str]:
    """Writes ``count`` labelled recordings (kept if present)."""
    rng = np.random.default_rng(seed)
    t = np.arange(RATE * SECONDS) / RATE
    paths = []
    for i in range(count):
        label = i % 5
        path = os.path.join(root, f"{i:05d}_c{label}.npy")
        if not os.path.exists(path):
            freq = 0.8 + 0.6 * label + rng.uniform(-0.1, 0.1, (CHANNELS, 1))
            phase = rng.uniform(0, 2 * np.pi, (CHANNELS, 1))
            drift = np.cumsum(rng.standard_normal((CHANNELS, len(t))), axis=1) * 0.01
            x = np.sin(2 * np.pi * freq * t + phase) + drift + 0.3 * rng.standard_normal((CHANNELS, len(t)))
            np.save(path, x.astype(np.float32))
        paths.append(path)
    return paths


def load(path: str) -> tuple[np.ndarray, int]:
    return np.load(path), int(os.path.basename(path).split("_c")[1][0])


@lru_cache(maxsize=1)
def _sos() -> np.ndarray:
    from scipy.signal import butter

    return butter(4, [0.3, 20.0], btype="bandpass", fs=RATE, output="sos")


def bandpass(sample: tuple[np.ndarray, int]) -> tuple[np.ndarray, int]:
    """Zero-phase 4th-order Butterworth band-pass, 0.3-20 Hz."""
    from scipy.signal import sosfiltfilt

    x, label = sample
    return sosfiltfilt(_sos(), x, axis=-1).astype(np.float32), label


def standardise(sample: tuple[np.ndarray, int]) -> tuple[np.ndarray, int]:
    """Zero mean, unit variance per channel (over the whole recording)."""
    x, label = sample
    return ((x - x.mean(axis=-1, keepdims=True)) / (x.std(axis=-1, keepdims=True) + 1e-6)).astype(np.float32), label


def window_jitter(sample: tuple[np.ndarray, int]) -> tuple[torch.Tensor, int]:
    """A random WINDOW-long window, a random gain per channel and Gaussian noise."""
    x, label = sample
    rng = stoker.sample_rng()
    start = int(rng.integers(0, x.shape[1] - WINDOW + 1))
    w = x[:, start : start + WINDOW] * rng.uniform(0.8, 1.2, (CHANNELS, 1)).astype(np.float32)
    w = w + rng.normal(0.0, 0.05, w.shape).astype(np.float32)
    return torch.from_numpy(np.ascontiguousarray(w, dtype=np.float32)), label


def build(recordings: int = 384, seed: int = 0) -> Case:
    paths = make_recordings(bench_dir("sensor"), recordings)
    pipe = (
        stoker.from_files(paths)
        .shuffle(seed=seed)
        .map(load)
        .map(bandpass)
        .map(standardise)
        .map(window_jitter)
        .batch(64)
    )
    return Case(NAME, pipe, "6-channel 100 Hz recordings: band-pass, standardise, random window + jitter; batch 64")
