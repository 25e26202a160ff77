"""A trainer killed by SIGKILL or SIGTERM (preemption, the OOM killer) leaves nothing behind.

The trainer is a real subprocess that streams batches through shared memory; the test records
its whole process tree (forkserver, resource tracker, workers), kills the trainer, and checks
that within 5 s no process of that tree lives and no ``/dev/shm`` entry of it remains, also
when one worker was SIGSTOPped (it cannot end itself) or hangs in a pipeline function.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

import stoker
from stoker.backends.lifeline import shm_prefix
from stoker.data.transport import shm_dir

TRAINER = textwrap.dedent(
    """
    import sys, time, threading
    import torch
    import stoker

    def big(i):
        if i == 300 and sys.argv[1] == "hang":
            threading.Event().wait()
        return torch.full((64, 1024), float(i))

    if __name__ == "__main__":
        pipe = stoker.from_items(list(range(100000))).map(big).batch(8)
        loader = stoker.Loader(pipe, workers=3, prefetch=4)
        held = []
        for step, batch in enumerate(loader):
            held.append(batch)  # the trainer holds batches: their files stay mapped
            if step == 20:
                print("ready", flush=True)
            time.sleep(0.01)
    """
)


def _tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def _alive(procs: list[psutil.Process]) -> list[str]:
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(f"{p.pid} {p.name()} {p.status()}")
        except psutil.Error:
            continue
    return out


def _files(pid: int) -> list[str]:
    prefix = os.path.basename(shm_prefix(pid))
    return [f for f in os.listdir(shm_dir()) if f.startswith(prefix)]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("sig", "worker_state"),
    [
        (signal.SIGKILL, "running"),
        (signal.SIGTERM, "running"),
        (signal.SIGKILL, "stopped"),
        (signal.SIGKILL, "hang"),
    ],
)
def test_trainer_death_leaves_no_process_and_no_shm_file(tmp_path: Path, sig: int, worker_state: str) -> None:
    script = tmp_path / "trainer.py"
    script.write_text(TRAINER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2]), *sys.path])}
    trainer = subprocess.Popen(
        [sys.executable, str(script), worker_state], stdout=subprocess.PIPE, env=env, text=True, cwd=tmp_path
    )
    try:
        assert trainer.stdout is not None
        assert trainer.stdout.readline().strip() == "ready"
        tree = _tree(trainer.pid)
        workers = [p for p in tree if "stoker-worker" in " ".join(p.cmdline()) or p.ppid() != trainer.pid]
        assert len(tree) >= 5, [p.cmdline() for p in tree]  # trainer, forkserver, tracker, workers
        if worker_state == "stopped":
            leaves = [p for p in tree if not p.children()]
            for p in leaves:
                if p.ppid() != trainer.pid:  # a worker (child of the forkserver)
                    os.kill(p.pid, signal.SIGSTOP)
                    break
        elif worker_state == "hang":
            time.sleep(1.0)  # the trainer reaches sample 300, one worker hangs on it
        if worker_state != "hang":  # a hung pipeline leaves nothing in flight by the time we look
            # The trainer unlinks a file's name when it maps it, so on a busy machine the workers can be
            # momentarily behind with nothing in flight: look until some file is (one look failed ~1 in 12
            # under a busy loop).
            deadline = time.monotonic() + 10.0
            while not _files(trainer.pid) and time.monotonic() < deadline:
                time.sleep(0.005)
            assert _files(trainer.pid), "the run should have shared-memory files in flight"
        tree = _tree(trainer.pid)
        os.kill(trainer.pid, sig)
        trainer.wait(timeout=10)
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline and (_alive(tree[1:]) or _files(trainer.pid)):
            time.sleep(0.1)
        assert not _alive(tree[1:]), f"left alive after the trainer's {signal.Signals(sig).name}: {_alive(tree)}"
        assert not _files(trainer.pid), _files(trainer.pid)
        assert workers
    finally:
        if trainer.poll() is None:
            trainer.kill()


def test_a_new_loader_reaps_files_of_a_dead_trainer_and_spares_live_ones() -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan = shm_prefix(dead.pid) + "deadbeef-w0-arena-a1"
    live = shm_prefix(os.getpid()) + "not-a-pool-file"
    for path in (orphan, live):
        Path(path).write_bytes(b"x" * 4096)
    try:
        if psutil.pid_exists(dead.pid):
            pytest.skip("the dead trainer's pid was reused already")
        with stoker.Loader(stoker.from_items(list(range(8))).batch(4), workers=1) as loader:
            assert [int(b.sum()) for b in loader] == [6, 22]
            assert loader.stats()["shm_pool"]["orphans_reaped"] >= 1
        assert not os.path.exists(orphan)
        assert os.path.exists(live)  # this process lives: its files are never reaped
    finally:
        for path in (orphan, live):
            if os.path.exists(path):
                os.unlink(path)
