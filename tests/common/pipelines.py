"""Small real pipelines for tests: every item carries its sample index and its random draws."""

from __future__ import annotations

import os
import time

import torch

import stoker


def tag(i: int) -> torch.Tensor:
    """[index, a per-sample random draw] so tests see both identity and determinism."""
    g = stoker.sample_generator()
    return torch.tensor([float(i), float(torch.rand((), generator=g))], dtype=torch.float64)


def slow_tag(i: int) -> torch.Tensor:
    """Like :func:`tag` but takes ~2 ms, so kills land mid-epoch."""
    time.sleep(0.002)
    return tag(i)


def fail_on_13(i: int) -> int:
    if i == 13:
        raise ValueError("thirteen is unlucky")
    return i


def crash_on_7(i: int) -> int:
    if i == 7:
        os._exit(3)  # a native crash stand-in: the process dies without a Python exception
    return i


def numbers(n: int, batch: int = 8, shuffle: bool = True, fn=tag) -> stoker.Pipeline:
    pipe = stoker.from_items(list(range(n)))
    if shuffle:
        pipe = pipe.shuffle(seed=0)
    return pipe.map(fn).batch(batch)


def indices_of(batches: list[torch.Tensor]) -> list[int]:
    return [int(v) for b in batches for v in b[:, 0].tolist()]


def sleepy(i: int) -> torch.Tensor:
    """5 ms of waiting per sample and no CPU: the autoscaler's decisions do not depend on machine load."""
    time.sleep(0.005)
    return torch.tensor([float(i)])


def big(i: int) -> torch.Tensor:
    """A 64 KiB sample filled with its index: batches of these go through reused shared-memory files."""
    return torch.full((16, 1024), float(i))
