"""Small real pipeline functions for the optimiser's tests (module level: workers import them)."""

from __future__ import annotations

import os
import random
from typing import Any

import numpy as np
import torch

import stoker
from stoker.optimize.marks import pointwise, resamples, selects_pixels


def heavy(i: int) -> dict[str, Any]:
    """A few ms of real, deterministic numeric work per sample (the prefix worth caching)."""
    x = np.random.default_rng(int(i)).standard_normal((64, 64))
    for _ in range(10):
        x = np.tanh(np.sin(x) * 2.0 + x[::-1])  # element-wise work: no BLAS threads to contend
    return {"i": int(i), "x": torch.from_numpy(x[0, :16].astype(np.float32)), "odd": int(i) % 2 == 1}


def jitter(rec: dict[str, Any]) -> dict[str, Any]:
    """Per-sample random noise (reads the per-sample torch generator)."""
    noise = torch.rand(rec["x"].shape, generator=stoker.sample_generator())
    return {**rec, "x": rec["x"] + noise}


def global_jitter(rec: dict[str, Any]) -> dict[str, Any]:
    """Reads the global ``random`` module (seeded per sample by stoker)."""
    return {**rec, "x": rec["x"] * random.random()}


def numpy_global_jitter(rec: dict[str, Any]) -> dict[str, Any]:
    return {**rec, "x": rec["x"] + float(np.random.rand())}


def keyed(rec: dict[str, Any]) -> dict[str, Any]:
    """Deterministic-looking but depends on the sample key (epoch): never cacheable."""
    key = stoker.sample_key()
    return {**rec, "x": rec["x"] + float(key[1] if key else 0)}


def scale(rec: dict[str, Any]) -> dict[str, Any]:
    """Element-wise and deterministic: works on one record or a collated batch."""
    return {**rec, "x": (rec["x"] - 0.25) / 3.0}


def center(rec: dict[str, Any]) -> dict[str, Any]:
    """Subtracts the tensor's own mean: on a batch the mean is the batch's, so not element-wise."""
    return {**rec, "x": rec["x"] - rec["x"].mean()}


def is_even(rec: dict[str, Any]) -> bool:
    """A cheap filter on a field the source item already has."""
    return rec["i"] % 2 == 0


def keep_odd_flag(rec: dict[str, Any]) -> bool:
    """A filter on a field that :func:`heavy` adds: cannot move before it."""
    return not rec["odd"]


def coin_filter(rec: dict[str, Any]) -> bool:
    """A filter that reads the RNG: never moved."""
    return bool(stoker.sample_rng().random() < 0.7)


def as_record(i: int) -> dict[str, Any]:
    return {"i": int(i)}


def heavy_record(rec: dict[str, Any]) -> dict[str, Any]:
    return heavy(rec["i"])


class Counted:
    """Wraps a function and appends one line per call to a file (counts calls across processes)."""

    def __init__(self, fn: Any, log: str) -> None:
        self.fn, self.log = fn, log
        self.__name__ = getattr(fn, "__name__", "counted")

    def __call__(self, value: Any) -> Any:
        fd = os.open(self.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, b"x\n")
        finally:
            os.close(fd)
        return self.fn(value)


def calls(log: str) -> int:
    try:
        with open(log, "rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return 0


# -- images -----------------------------------------------------------------------------------


def image(i: int) -> np.ndarray:
    """A deterministic 64x64 RGB uint8 image with real structure."""
    y, x = np.mgrid[0:64, 0:64]
    base = np.stack([(x * 4 + i) % 256, (y * 4 + 2 * i) % 256, ((x + y) * 2 + 3 * i) % 256], axis=-1)
    return base.astype(np.uint8)


@pointwise
def lut_jitter(px: np.ndarray) -> np.ndarray:
    """A random per-pixel gamma curve (pointwise colour op reading the RNG)."""
    g = stoker.sample_rng().uniform(0.6, 1.6)
    lut = ((np.arange(256) / 255.0) ** g * 255.0 + 0.5).astype(np.uint8)
    return lut[px]


@pointwise
def invert(px: np.ndarray) -> np.ndarray:
    return 255 - px


@selects_pixels
def half(px: np.ndarray) -> np.ndarray:
    """Nearest-neighbour 2x downscale."""
    return np.ascontiguousarray(px[::2, ::2])


@selects_pixels
def random_crop(px: np.ndarray) -> np.ndarray:
    """Selects pixels but reads the RNG: may not swap with an RNG-reading colour op."""
    top = int(stoker.sample_rng().integers(0, px.shape[0] // 2))
    return np.ascontiguousarray(px[top : top + px.shape[0] // 2])


@resamples
def box_half(px: np.ndarray) -> np.ndarray:
    """2x2 box-average downscale: interpolates, so only approximately commutes with colour maps."""
    f = px.astype(np.float32)
    return ((f[::2, ::2] + f[1::2, ::2] + f[::2, 1::2] + f[1::2, 1::2]) / 4 + 0.5).astype(np.uint8)


def to_tensor(px: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(px.copy()).permute(2, 0, 1).contiguous()


# -- randomness the probe cannot see: in the source read, or on a few samples only -------------


def _draw(kind: str) -> float:
    if kind == "torch":
        return float(torch.rand(1))
    if kind == "numpy":
        return float(np.random.rand())
    if kind == "random":
        return random.random()
    if kind == "sample_rng":
        return float(stoker.sample_rng().random())
    return float(torch.rand(1, generator=stoker.sample_generator()))


class AugmentingDataset(torch.utils.data.Dataset):  # type: ignore[type-arg]
    """A map-style data set whose ``__getitem__`` augments with a global RNG (``kind``), as many do."""

    def __init__(self, n: int, kind: str, rare: bool = False) -> None:
        self.n, self.kind, self.rare = n, kind, rare

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict[str, Any]:
        # rare: only indices 4 mod 6 augment, which evenly spread probes (0, 7, 15, 23 of 24) miss.
        draws = not self.rare or i % 6 == 4
        return {"i": int(i), "aug": _draw(self.kind) if draws else 0.0}


def heavy_keep(rec: dict[str, Any]) -> dict[str, Any]:
    """:func:`heavy` on the record's index, keeping its other fields (a costly deterministic map)."""
    return {**rec, **heavy(rec["i"])}


class RareDraw:
    """Deterministic, except on samples whose index is 4 mod 6 (missed by evenly spread probes), where it
    draws from ``kind``: the kind of data-dependent randomness (long documents, one class) a probe misses."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.__name__ = f"rare_{kind}"

    def __call__(self, rec: dict[str, Any]) -> dict[str, Any]:
        if rec["i"] % 6 == 4:
            return {**rec, "x": rec["x"] + _draw(self.kind)}
        return rec
