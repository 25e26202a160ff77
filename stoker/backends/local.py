"""Data workers as local processes (the default backend).

By default workers are forks of a template (:mod:`stoker.backends.template`): one fork of the
trainer, made when the pool starts, that holds the pipeline and every module the trainer
imported. A first, scaled-up or replacement worker so starts in milliseconds, without importing
or unpickling anything, and shares the source's pages with its siblings. The other start
methods (``"forkserver"``, ``"spawn"``, ``"fork"``) send each worker the cloudpickled pipeline.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import multiprocessing as mp
import os
import signal
import sys
import time
import types
import uuid
import weakref
from collections.abc import Callable, Iterator
from functools import partial
from multiprocessing.connection import Connection, wait
from typing import Any

import psutil

from stoker.backends import lifeline
from stoker.backends.base import Began, Done, Event, Exited, Fatal, Lost, WorkerPool
from stoker.backends.template import Template, TemplateProcess
from stoker.data import protocol as msg
from stoker.data.executor import SplitFailure, SplitResult
from stoker.data.intake import serialize_pipeline
from stoker.data.splits import Split
from stoker.data.transport import map_shared, unpack
from stoker.data.worker import worker_main
from stoker.system import cpu_count

START_METHODS = ("template", "forkserver", "spawn", "fork")
# fork is Linux's default start method; on macOS, system frameworks make fork unsafe and CPython spawns.
DEFAULT_START = "template" if sys.platform.startswith("linux") else "spawn"


def _context(name: str) -> Any:
    if name not in START_METHODS:
        raise ValueError(f"mp_context={name!r} should be one of {START_METHODS}")
    if name == "template":
        return None
    ctx = mp.get_context(name)
    if name == "forkserver":
        # The janitor makes the forkserver end, with every worker it forked, when the trainer dies.
        ctx.set_forkserver_preload(
            ["torch", "numpy", "PIL.Image", "stoker.data.worker", "stoker.backends.forkserver_janitor"]
        )
    return ctx


@contextlib.contextmanager
def main_hidden() -> Iterator[None]:
    """Starts processes without making them re-run the user's ``__main__`` script.

    multiprocessing's spawn/forkserver children re-import the parent's main module, which runs
    an unguarded training script a second time in every worker. Workers need nothing from it:
    the pipeline arrives cloudpickled (functions from ``__main__`` by value). So while a worker
    is being started, ``__main__`` is swapped for an empty module.
    """
    real = sys.modules["__main__"]
    stand_in = types.ModuleType("__main__")
    stand_in.__spec__ = None

    def lookup(name: str) -> Any:
        # Names the script defines still resolve while the stand-in is in place (another thread may
        # unpickle a result holding a __main__ class by name); its dunders (__file__) stay hidden.
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(real, name)

    stand_in.__getattr__ = lookup  # type: ignore[method-assign]
    sys.modules["__main__"] = stand_in
    try:
        yield
    finally:
        sys.modules["__main__"] = real


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "vanished"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


class LocalPool(WorkerPool):
    """Worker processes on this machine, results through shared memory.

    Workers say when they start each split (:class:`~stoker.backends.base.Began`).

    Args:
        pipeline: The pipeline (a :class:`~stoker.data.pipeline.Pipeline`), or its cloudpickled bytes.
        seed: Per-sample RNG seed.
        on_error: ``"raise"`` or ``"skip"``.
        mp_context: ``"template"`` (default on Linux, else ``"spawn"``: forks of a fork of the trainer holding the pipeline),
            ``"forkserver"``, ``"spawn"`` or ``"fork"`` (these three send each worker the pickled pipeline).
        prefetch: Splits in flight per worker (sizes the shared-memory pool).
        shm_files: Most pooled shared-memory files per worker (default ``max(4, 2 * prefetch)``).
    """

    def __init__(
        self,
        pipeline: Any,
        seed: int,
        on_error: str,
        mp_context: str = DEFAULT_START,
        prefetch: int = 2,
        shm_files: int | None = None,
    ) -> None:
        self.reports_starts = True
        self._ctx = _context(mp_context)
        self._template: Template | None = None
        if self._ctx is None and not isinstance(pipeline, bytes):
            self._template = Template(pipeline)
            self._pipeline: Any = self._template.held
        else:  # a fresh interpreter, or a fork that would unpickle anyway: send the pipeline
            self._pipeline = pipeline if isinstance(pipeline, bytes) else serialize_pipeline(pipeline)
        self._seed = seed
        self._on_error = on_error
        self._shm_files = max(4, 2 * prefetch) if shm_files is None else shm_files
        if self._shm_files < 1:
            raise ValueError(f"shm_files={shm_files} should be >= 1 shared-memory file per worker")
        self._uid = uuid.uuid4().hex[:12]
        self._pid = os.getpid()
        self._created = psutil.Process().create_time()
        self._next_id = 0
        self._procs: dict[int, Any] = {}
        self._conns: dict[int, Connection] = {}
        self._draining: set[int] = set()
        self._said_exit: set[int] = set()
        self._killed: dict[int, str] = {}  # worker -> why the trainer ended it (a stuck worker)
        # Trainer side of buffer reuse: lent arena files stay mapped here, and a file goes back to
        # its worker once every tensor viewing it is gone (see transport.Arena).
        self._mapped: dict[str, Any] = {}  # path -> mapping (transport.map_shared)
        self._returned: collections.deque[tuple[int, str]] = collections.deque()
        self._cpu_seen: dict[int, float] = {}  # pid -> CPU seconds at the last cpu_free() call
        self._cpu_at = time.monotonic()
        self._closed = False
        self.reaped = lifeline.reap_orphans()  # files of trainers on this machine that died

    def _prefix(self, wid: int) -> str:
        return f"{lifeline.shm_prefix(self._pid)}{self._uid}-w{wid}"

    def processes(self) -> list[Any]:
        """The live worker processes (what torch's DataLoader iterator calls ``_workers``)."""
        return list(self._procs.values())

    def add_worker(self) -> int:
        if self._closed:
            raise RuntimeError("this worker pool is closed")
        wid = self._next_id
        self._next_id += 1
        parent, child = mp.Pipe(duplex=True)
        start: Any = self._ctx.Process if self._template is None else partial(TemplateProcess, self._template)
        proc = start(
            target=worker_main,
            args=(
                child,
                self._pipeline,
                self._seed,
                self._on_error,
                self._prefix(wid),
                self._pid,
                self._created,
                self._shm_files,
                wid,
            ),
            name=f"stoker-worker-{wid}",
            daemon=True,
        )
        with main_hidden():
            proc.start()
        child.close()
        self._procs[wid] = proc
        self._conns[wid] = parent
        return wid

    def _lent(self, wid: int) -> Callable[[str, int], memoryview]:
        def view(path: str, size: int) -> memoryview:
            mm = self._mapped.get(path)
            if mm is None or len(mm) != size:
                # First arrival of this file: map it and unlink its name, so from now on it lives
                # only as long as the worker's and the trainer's mappings, whoever dies first.
                mm = self._mapped[path] = map_shared(path, size)
            mv = memoryview(mm)
            # Runs when the last tensor viewing this delivery dies. It only queues the name: a
            # finalizer can fire inside any code, so sending from it could interleave two messages.
            weakref.finalize(mv, self._returned.append, (wid, path))
            return mv

        return view

    def _give_back(self) -> None:
        by_worker: dict[int, list[str]] = {}
        while self._returned:
            wid, path = self._returned.popleft()
            by_worker.setdefault(wid, []).append(path)
        for wid, paths in by_worker.items():
            conn = self._conns.get(wid)
            if conn is not None and wid not in self._draining:
                with contextlib.suppress(BrokenPipeError, OSError):
                    conn.send(msg.Free(tuple(paths)))

    def submit(self, worker: int, split: Split) -> None:
        # A dead worker's pipe fails here; poll() reports the loss and its splits are re-issued.
        with contextlib.suppress(BrokenPipeError, OSError):
            self._conns[worker].send(msg.Run(split))

    def drain(self, worker: int) -> None:
        self._draining.add(worker)
        with contextlib.suppress(BrokenPipeError, OSError):
            self._conns[worker].send(msg.Drain())

    def replace(self, worker: int, reason: str) -> None:
        """SIGKILLs a stuck worker (stopped or hung: no signal it could catch would do); the next
        :meth:`poll` reports it lost with ``reason``, and the Loader starts a replacement."""
        proc = self._procs.get(worker)
        if proc is None or proc.pid is None:
            return
        self._killed[worker] = reason
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)

    def _remove(self, wid: int) -> None:
        proc = self._procs.pop(wid)
        conn = self._conns.pop(wid)
        conn.close()
        proc.join(timeout=1.0)
        self._draining.discard(wid)
        self._killed.pop(wid, None)
        prefix = self._prefix(wid) + "-"
        for path in [p for p in self._mapped if p.startswith(prefix)]:
            del self._mapped[path]  # tensors still viewing it keep their mapping alive
        # Files of this worker still named: payloads it never announced (it died mid-split).
        lifeline.unlink_prefix(prefix)

    def _result(self, wid: int, body: Any) -> Done:
        if isinstance(body, SplitResult):
            try:
                body = dataclasses.replace(body, items=unpack(body.items, self._lent(wid)))
            except FileNotFoundError as exc:  # the worker's files were reaped: run the split again
                body = SplitFailure(body.key, f"the payload of split {body.key} vanished: {exc}", (), None, "recv", "")
        return Done(wid, body.key, body)

    def _read(self, wid: int, events: list[Event]) -> bool:
        """Reads everything queued on a worker's pipe; False once the pipe hit EOF."""
        conn = self._conns[wid]
        try:
            while conn.poll():
                message = msg.expect(conn.recv(), msg.TO_TRAINER)
                if isinstance(message, msg.Started):
                    events.append(Began(wid, message.key))
                elif isinstance(message, msg.Result):
                    events.append(self._result(wid, message.body))
                elif isinstance(message, msg.Forgot):
                    for path in message.paths:
                        self._mapped.pop(path, None)
                elif isinstance(message, msg.Bye):
                    self._said_exit.add(wid)
                elif isinstance(message, msg.Broken):
                    events.append(Fatal(wid, message.message))
        except (EOFError, OSError):
            return False
        return True

    def poll(self, timeout: float) -> list[Event]:
        self._give_back()
        waitables: list[Any] = list(self._conns.values()) + [p.sentinel for p in self._procs.values()]
        if not waitables:
            return []
        wait(waitables, timeout)
        events: list[Event] = []
        for wid in list(self._procs):
            open_pipe = self._read(wid, events)
            proc = self._procs[wid]
            if open_pipe and proc.is_alive():
                continue
            proc.join(timeout=1.0)
            if wid in self._said_exit or (wid in self._draining and proc.exitcode == 0):
                events.append(Exited(wid))
            elif not any(isinstance(e, Fatal) and e.worker == wid for e in events):
                events.append(Lost(wid, self._killed.get(wid) or _describe_exit(proc.exitcode)))
            self._said_exit.discard(wid)
            self._remove(wid)
        return events

    def workers(self) -> list[int]:
        return list(self._procs)

    def pids(self) -> dict[int, int]:
        """Process id of each worker (for tests that kill workers, and for ``stoker top``)."""
        return {wid: p.pid for wid, p in self._procs.items() if p.pid is not None}

    def cpu_free(self) -> float:
        """CPUs this job leaves idle since the last call: cores minus what the trainer and its
        workers used.

        Other processes on the machine are not counted: sharing a node between jobs is the
        cluster scheduler's business (it caps each job with ``Loader.set_budget``), and counting
        them would make one job's scaling depend on its neighbours' noise.
        """
        now = time.monotonic()
        used = 0.0
        seen: dict[int, float] = {}
        for pid in [os.getpid(), *self.pids().values()]:
            try:
                t = psutil.Process(pid).cpu_times()
            except psutil.Error:
                continue
            seen[pid] = t.user + t.system
            used += seen[pid] - self._cpu_seen.get(pid, seen[pid])
        elapsed = now - self._cpu_at
        self._cpu_seen, self._cpu_at = seen, now
        cores = cpu_count()
        return max(0.0, cores - used / elapsed) if elapsed > 0 else float(cores)

    def describe(self) -> dict[str, Any]:
        return {"backend": "local", "pids": self.pids()}

    def shm_stats(self) -> dict[str, int]:
        """The trainer's view of the shared-memory pool: lent files it maps, their bytes, the cap."""
        return {
            "files_mapped": len(self._mapped),
            "bytes_mapped": sum(len(m) for m in self._mapped.values()),
            "files_per_worker_cap": self._shm_files,
            "orphans_reaped": self.reaped,
        }

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # Asked first, a worker exits with code 0 after the splits it holds, as torch's do when their
        # DataLoader ends them; whatever has not gone within a moment is terminated.
        for wid, proc in self._procs.items():
            if proc.is_alive() and wid in self._conns:
                with contextlib.suppress(BrokenPipeError, OSError):
                    self._conns[wid].send(msg.Drain())
        deadline = time.monotonic() + 0.5
        for proc in self._procs.values():
            proc.join(timeout=max(0.0, deadline - time.monotonic()))
        for wid in list(self._procs):
            proc = self._procs[wid]
            if proc.is_alive():
                proc.terminate()
        for wid in list(self._procs):
            self._procs[wid].join(timeout=2.0)
            if self._procs[wid].is_alive():
                self._procs[wid].kill()
            self._remove(wid)
        if self._template is not None:
            self._template.close()
        lifeline.unlink_prefix(f"{lifeline.shm_prefix(self._pid)}{self._uid}-")
