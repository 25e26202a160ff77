"""The soak: random SIGKILLs, SIGSTOP/SIGCONT, rescaling and trainer restarts from ``state_dict``.

Every trial must end with every epoch delivered exactly once, no worker process left and no
``/dev/shm`` file of this process left. CI runs a short form (``STOKER_SOAK_TRIALS``); locally
the default runs more trials.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import time
from collections import Counter

import psutil
import pytest

import stoker
from stoker.backends.lifeline import shm_prefix
from stoker.data.transport import shm_dir
from tests.common.pipelines import numbers, slow_tag
from tests.common.soak import soak_trials

N = 320
BATCH = 8
EPOCHS = 2


def _loader() -> stoker.Loader:
    return stoker.Loader(numbers(N, BATCH, fn=slow_tag), workers=2, seed=0, timeout=2.0)


def _my_files() -> list[str]:
    prefix = os.path.basename(shm_prefix(os.getpid()))
    return [f for f in os.listdir(shm_dir()) if f.startswith(prefix)]


def _alive(pids: set[int]) -> list[int]:
    out = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.append(pid)
        except psutil.Error:
            continue
    return out


@pytest.mark.soak
@pytest.mark.timeout(600)
@pytest.mark.parametrize("trial", range(soak_trials(6)))
def test_soak_kills_stops_scaling_and_restarts_end_exactly_once_with_nothing_left(trial: int) -> None:
    rng = random.Random(1000 + trial)
    seen_pids: set[int] = set()
    stopped: dict[int, int] = {}  # pid -> step at which to SIGCONT it (if it still lives)
    restarts = kills = stops = 0
    epochs: list[Counter[int]] = [Counter() for _ in range(EPOCHS)]
    loader = _loader()
    try:
        step = 0
        it = iter(loader)
        epoch = 0
        while epoch < EPOCHS:
            step += 1
            pids = list(loader.pool.pids().values())
            seen_pids.update(pids)
            for pid, when in list(stopped.items()):
                if step >= when:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGCONT)
                    del stopped[pid]
            roll = rng.random()
            if roll < 0.08 and pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(rng.choice(pids), signal.SIGKILL)
                kills += 1
            elif roll < 0.11 and pids:
                pid = rng.choice(pids)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGSTOP)
                stopped[pid] = step + rng.choice([1, 3, 1000])  # short pauses, or frozen for good
                stops += 1
            elif roll < 0.16:
                loader.scale(rng.choice([1, 2, 3]))
            elif roll < 0.19:
                state = loader.state_dict()  # the trainer restarts from its checkpoint
                loader.close()
                loader = _loader()
                loader.load_state_dict(state)
                it = iter(loader)
                restarts += 1
            try:
                batch = next(it)
            except StopIteration:
                epoch += 1
                if epoch < EPOCHS:
                    it = iter(loader)
                continue
            epochs[loader.state_dict()["epoch"]].update(int(v) for v in batch[:, 0].tolist())
    finally:
        for pid in stopped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        loader.close()
    for e, counts in enumerate(epochs):
        repeated = [k for k, c in counts.items() if c > 1]
        missing = sorted(set(range(N)) - set(counts))
        assert not repeated and not missing, f"epoch {e}: repeated {repeated[:10]}, missing {missing[:10]}"
    deadline = time.monotonic() + 5.0
    while (_alive(seen_pids) or _my_files()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(seen_pids), f"worker processes left: {_alive(seen_pids)}"
    assert not _my_files(), _my_files()
    print(f"soak trial {trial}: {kills} kills, {stops} stops, {restarts} restarts")
    assert kills + stops + restarts > 0
