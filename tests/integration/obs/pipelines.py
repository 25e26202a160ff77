"""Three real pipelines with a known bottleneck, and a trainer loop that costs a known CPU time."""

from __future__ import annotations

import time
from typing import Any

import stoker


def spin(seconds: float) -> None:
    """Burns CPU (not sleep): a stand-in for decode work or a training step."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def decode(x: int) -> int:
    spin(0.004)  # 4 ms of worker CPU per sample
    return x


def cheap(x: int) -> int:
    return x


def fat(x: int) -> list[int]:
    # 200,000 Python ints per sample: about 1 ms for the worker to make, about 20 ms to pickle through
    # the pipe and unpickle in the trainer (plain objects do not go through shared memory).
    return [x] * 200_000


def decode_bound() -> stoker.Pipeline:
    return stoker.from_items(list(range(2000))).map(decode).batch(8)


def trainer_bound() -> stoker.Pipeline:
    return stoker.from_items(list(range(2000))).map(cheap).batch(8)


def transport_bound() -> stoker.Pipeline:
    return stoker.from_items(list(range(2000))).map(fat).batch(2, collate=list)


def train(it: Any, batches: int, step_s: float = 0.0) -> None:
    """Takes ``batches`` batches, spending ``step_s`` of CPU on each as a training step would."""
    for _ in range(batches):
        next(it)
        spin(step_s)
