"""Speech: WAV decode (soundfile), resample 48 -> 16 kHz, log-mel (torch), SpecAugment, crop.

The WAV files are synthesised with numpy (tone sequences of four kinds with harmonics, vibrato
and noise, 1-2 s at 48 kHz, 16-bit) and written with soundfile, once, into the benchmark
folder. Decode, resampling (polyphase, scipy) and the log-mel spectrogram are deterministic;
SpecAugment masks and the random crop read the sample's RNG.
"""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np
import torch

import stoker
from stoker.bench._util import bench_dir
from stoker.bench.pipelines._base import Case

NAME = "speech"
RATE_IN, RATE = 48_000, 16_000
N_FFT, HOP, MELS, FRAMES = 400, 160, 64, 96


def make_wavs(root: str, count: int, seed: int = 0) -> list[str]:
    """Writes ``count`` synthetic labelled WAV files (reusing those already there)."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        label = i % 4
        seconds = float(rng.uniform(1.0, 2.0))
        path = os.path.join(root, f"{i:05d}_c{label}.wav")
        if not os.path.exists(path):
            t = np.arange(int(seconds * RATE_IN)) / RATE_IN
            f0 = 110.0 * (2 ** (label + rng.uniform(0, 1)))
            vib = 1 + 0.01 * np.sin(2 * np.pi * rng.uniform(3, 7) * t)
            wave = sum(np.sin(2 * np.pi * f0 * h * vib * t) / h for h in range(1, 4))
            wave = wave * np.hanning(len(t)) + 0.05 * rng.standard_normal(len(t))
            sf.write(path, (0.3 * wave).astype(np.float32), RATE_IN, subtype="PCM_16")
        paths.append(path)
    return paths


def load_wav(path: str) -> tuple[np.ndarray, int]:
    import soundfile as sf

    wave, rate = sf.read(path, dtype="float32")
    if rate != RATE_IN:
        raise ValueError(f"{path}: sample rate {rate} Hz, expected {RATE_IN}")
    return wave, int(os.path.basename(path).split("_c")[1][0])


def resample(sample: tuple[np.ndarray, int]) -> tuple[np.ndarray, int]:
    """48 kHz -> 16 kHz, polyphase (1/3)."""
    from scipy.signal import resample_poly

    wave, label = sample
    return resample_poly(wave, 1, 3).astype(np.float32), label


@lru_cache(maxsize=1)
def _mel_bank() -> torch.Tensor:
    """(MELS, N_FFT // 2 + 1) triangular HTK mel filters, 0-8 kHz."""
    mel = np.linspace(0, 2595 * np.log10(1 + (RATE / 2) / 700), MELS + 2)
    hz = 700 * (10 ** (mel / 2595) - 1)
    bins = np.linspace(0, RATE / 2, N_FFT // 2 + 1)
    bank = np.zeros((MELS, len(bins)), dtype=np.float32)
    for m in range(MELS):
        lo, mid, hi = hz[m], hz[m + 1], hz[m + 2]
        bank[m] = np.clip(np.minimum((bins - lo) / (mid - lo), (hi - bins) / (hi - mid)), 0, None)
    return torch.from_numpy(bank)


def log_mel(sample: tuple[np.ndarray, int]) -> tuple[torch.Tensor, int]:
    """(MELS, frames) float32 log-mel spectrogram."""
    wave, label = sample
    spec = (
        torch.stft(torch.from_numpy(wave), N_FFT, HOP, window=torch.hann_window(N_FFT), return_complex=True).abs() ** 2
    )
    return torch.log(_mel_bank() @ spec + 1e-6), label


def spec_augment(sample: tuple[torch.Tensor, int]) -> tuple[torch.Tensor, int]:
    """One frequency mask (up to 8 mels) and one time mask (up to 20 frames)."""
    mel, label = sample
    g = stoker.sample_generator()
    mel = mel.clone()
    f = int(torch.randint(0, 9, (), generator=g))
    f0 = int(torch.randint(0, MELS - f + 1, (), generator=g))
    t = int(torch.randint(0, 21, (), generator=g))
    t0 = int(torch.randint(0, max(1, mel.shape[1] - t + 1), (), generator=g))
    mel[f0 : f0 + f] = 0.0
    mel[:, t0 : t0 + t] = 0.0
    return mel, label


def crop(sample: tuple[torch.Tensor, int]) -> tuple[torch.Tensor, int]:
    """A random FRAMES-long crop (zero-padded when shorter)."""
    mel, label = sample
    if mel.shape[1] < FRAMES:
        mel = torch.nn.functional.pad(mel, (0, FRAMES - mel.shape[1]))
    start = int(torch.randint(0, mel.shape[1] - FRAMES + 1, (), generator=stoker.sample_generator()))
    return mel[:, start : start + FRAMES].contiguous(), label


def build(clips: int = 384, seed: int = 0) -> Case:
    paths = make_wavs(bench_dir("wavs"), clips)
    pipe = (
        stoker.from_files(paths)
        .shuffle(seed=seed)
        .map(load_wav)
        .map(resample)
        .map(log_mel)
        .map(spec_augment)
        .map(crop)
        .batch(32)
    )
    return Case(NAME, pipe, "WAV decode (soundfile), resample 48->16 kHz, log-mel 64, SpecAugment, crop; batch 32")
