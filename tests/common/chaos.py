"""One harness for "N workers, kill some, scale to M" runs, used by every elastic test.

Like mosaicml/streaming's tests/common/distributed.py: the test says what happens at which step,
the harness runs real worker processes (or Ray actors) and returns what the trainer received.
"""

from __future__ import annotations

import os
import random
import signal
from collections.abc import Callable
from typing import Any

Action = Callable[[Any, int], None]  # (loader, step) -> None


def run_epochs(loader: Any, epochs: int, action: Action | None = None) -> list[list[Any]]:
    """Iterates ``epochs`` epochs, calling ``action(loader, step)`` before each item is taken.

    Returns:
        The items of each epoch, cloned so they outlive their shared memory.
    """
    out: list[list[Any]] = []
    step = 0
    for _ in range(epochs):
        items = []
        it = iter(loader)
        while True:
            if action is not None:
                action(loader, step)
            step += 1
            try:
                item = next(it)
            except StopIteration:
                break
            items.append(item.clone() if hasattr(item, "clone") else item)
        out.append(items)
    return out


def kill_random_worker(loader: Any, rng: random.Random) -> int | None:
    """SIGKILLs one live local worker; returns its pid (None when none is running)."""
    pids = list(loader.pool.pids().values())
    if not pids:
        return None
    pid = rng.choice(pids)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return None
    return pid


def chaos(rng: random.Random, kill_p: float = 0.0, scales: tuple[int, ...] = (), scale_p: float = 0.0) -> Action:
    """An action that kills a random worker with probability ``kill_p`` per step and rescales
    to a random count from ``scales`` with probability ``scale_p``."""

    def act(loader: Any, step: int) -> None:
        if kill_p and rng.random() < kill_p:
            kill_random_worker(loader, rng)
        if scales and rng.random() < scale_p:
            loader.scale(rng.choice(scales))

    return act
