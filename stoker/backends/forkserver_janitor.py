"""Makes multiprocessing's forkserver end, with everything it forked, when its trainer dies.

Imported only through ``set_forkserver_preload`` (see :mod:`stoker.backends.local`), so it runs
inside the forkserver process, whose parent is the trainer. The import starts one thread that
notices the trainer's death (this process is re-parented), and registers an exit hook for when
the forkserver's own loop ends first; either SIGKILLs every descendant:
a SIGSTOPped or hung worker cannot end itself, but a SIGKILL ends it whatever its state. It then
unlinks the trainer's shared-memory files and exits. Imported anywhere else it does nothing.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
import time

import psutil

from stoker.backends.lifeline import WATCH_S, shm_prefix, unlink_prefix


def _in_forkserver() -> bool:
    frame = sys._getframe()
    while frame is not None:
        code = frame.f_code
        if code.co_name == "main" and code.co_filename.endswith(os.path.join("multiprocessing", "forkserver.py")):
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


def reap_tree(trainer_pid: int) -> None:
    """SIGKILLs every descendant of this process and unlinks ``trainer_pid``'s files."""
    try:
        children = psutil.Process().children(recursive=True)
    except psutil.Error:
        children = []
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.kill()
    psutil.wait_procs(children, timeout=2.0)
    unlink_prefix(shm_prefix(trainer_pid))


def watch(trainer_pid: int) -> None:
    """Waits until ``trainer_pid`` is gone (this process re-parented), then reaps the tree and exits."""
    while os.getppid() == trainer_pid:
        time.sleep(WATCH_S)
    reap_tree(trainer_pid)
    os._exit(0)


if _in_forkserver():
    # The forkserver itself exits (SystemExit) as soon as the trainer's end of its "alive" pipe
    # closes, often before the thread below wakes up: the atexit hook covers that path. Both
    # run only once the trainer is gone (the forkserver outlives no live trainer).
    _trainer = os.getppid()
    atexit.register(reap_tree, _trainer)
    threading.Thread(target=watch, args=(_trainer,), name="stoker-janitor", daemon=True).start()
