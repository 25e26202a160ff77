"""Naming shared-memory files by their trainer's pid, and reaping those of dead trainers."""

from __future__ import annotations

import os
from pathlib import Path

import psutil

from stoker.backends.lifeline import process_alive, reap_orphans, shm_prefix, unlink_prefix


def _dead_pid() -> int:
    pid = 4_194_000  # above the usual pid_max; walk down to one that does not exist
    while psutil.pid_exists(pid):
        pid -= 1
    return pid


def test_files_of_a_dead_trainer_are_reaped_and_a_live_ones_kept() -> None:
    dead = Path(shm_prefix(_dead_pid()) + "unit-w0-1")
    live = Path(shm_prefix(os.getpid()) + "unit-w0-1")
    for p in (dead, live):
        p.write_bytes(b"x")
    try:
        assert reap_orphans() >= 1
        assert not dead.exists() and live.exists()
    finally:
        for p in (dead, live):
            if p.exists():
                p.unlink()


def test_unlink_prefix_removes_only_matching_files() -> None:
    base = shm_prefix(os.getpid()) + "unit-prefix-"
    a, b = Path(base + "a"), Path(shm_prefix(os.getpid()) + "unit-other")
    for p in (a, b):
        p.write_bytes(b"x")
    try:
        assert unlink_prefix(base) == 1
        assert not a.exists() and b.exists()
    finally:
        for p in (a, b):
            if p.exists():
                p.unlink()


def test_a_reused_pid_is_not_taken_for_the_trainer() -> None:
    me = psutil.Process()
    assert process_alive(me.pid, me.create_time())
    assert not process_alive(me.pid, me.create_time() - 100.0)
    assert not process_alive(_dead_pid(), None)
