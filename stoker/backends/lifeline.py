"""Ending local data workers with their trainer, and removing what a dead trainer left.

Three layers, because no single one covers every death:

1. Each worker watches its trainer from a thread (:func:`watch_trainer`): when the trainer's
   pipe hangs up or its pid is gone, the worker unlinks its own shared-memory files and exits.
2. Workers are children of the forkserver, not of the trainer, so the parent-death signal
   (``PR_SET_PDEATHSIG``) of a worker is tied to the forkserver; the forkserver in turn runs a
   janitor (:mod:`stoker.backends.forkserver_janitor`) that, when the trainer is gone, SIGKILLs
   every process it forked (a SIGSTOPped worker cannot run its own watcher) and unlinks the
   trainer's files. The resource tracker then loses its last writer and exits by itself.
3. Every file is named ``stoker-p<trainer pid>-...``, so a new pool on the same machine reaps
   files whose trainer no longer exists (:func:`reap_orphans`) even after a reboot-less crash
   of all three.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import re
import select
import signal
import threading
import time
from collections.abc import Callable

import psutil

from stoker.data.transport import shm_dir

PR_SET_PDEATHSIG = 1
WATCH_S = 0.2  # how often a worker checks that its trainer lives: a dead trainer's workers end within ~0.2 s
_OWNER = re.compile(r"^stoker-p(\d+)-")


def shm_prefix(trainer_pid: int) -> str:
    """The name prefix of every shared-memory file that belongs to ``trainer_pid``'s pools."""
    return os.path.join(shm_dir(), f"stoker-p{trainer_pid}-")


def set_parent_death_signal(sig: int = signal.SIGKILL) -> bool:
    """Asks the kernel to send ``sig`` to this process when its parent thread exits (Linux only).

    Returns:
        True when it was set.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def process_alive(pid: int, created: float | None) -> bool:
    """True while ``pid`` runs and (when ``created`` is known) is the same process, not a reused pid."""
    try:
        proc = psutil.Process(pid)
        return proc.status() != psutil.STATUS_ZOMBIE and (created is None or abs(proc.create_time() - created) < 1e-3)
    except psutil.Error:
        return False


def _hung_up(fd: int) -> bool:
    poller = select.poll()
    poller.register(fd, getattr(select, "POLLRDHUP", 0) | select.POLLHUP | select.POLLERR)
    try:
        return bool(poller.poll(0))
    except OSError:
        return True


def watch_trainer(trainer_pid: int, created: float | None, fd: int, on_gone: Callable[[], object]) -> threading.Thread:
    """Starts a daemon thread that calls ``on_gone()`` then ``os._exit(0)`` once the trainer is gone.

    Args:
        trainer_pid: The trainer's pid.
        created: The trainer's start time (``psutil.Process.create_time``), to tell a reused pid.
        fd: The worker's end of its pipe to the trainer; a hang-up means the trainer closed it or died.
        on_gone: Cleanup to run first (unlinking the worker's files).
    """

    def watch() -> None:
        while True:
            time.sleep(WATCH_S)
            if _hung_up(fd) or not process_alive(trainer_pid, created):
                with contextlib.suppress(Exception):
                    on_gone()
                os._exit(0)

    thread = threading.Thread(target=watch, name="stoker-trainer-watch", daemon=True)
    thread.start()
    return thread


def unlink_prefix(prefix: str) -> int:
    """Unlinks every file whose path starts with ``prefix``; returns how many."""
    n = 0
    for path in glob.glob(glob.escape(prefix) + "*"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
            n += 1
    return n


def reap_orphans() -> int:
    """Unlinks the shared-memory files of stoker trainers that no longer run; returns how many.

    Safe beside live jobs: a file is removed only when the pid in its name does not exist (a
    reused pid keeps its files, the conservative side).
    """
    n = 0
    for path in glob.glob(os.path.join(shm_dir(), "stoker-p*")):
        m = _OWNER.match(os.path.basename(path))
        if m is None or psutil.pid_exists(int(m.group(1))):
            continue
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
            n += 1
    return n
