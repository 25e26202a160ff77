"""Workers forked from a template: one fork of the trainer that already holds the pipeline.

The template is forked from the trainer when a pool starts, so it holds everything the trainer
has imported (torch, torchvision, the user's modules) and the pipeline object itself, source
included. It then runs multiprocessing's forkserver loop, and every worker (the first ones, a
scale-up, a replacement) is a fork of it: it starts in milliseconds, re-imports nothing, receives
no pickled pipeline, and shares the source's pages copy-on-write with its siblings instead of
keeping a private unpickled copy.

Why a template rather than forking each worker from the trainer (torch's DataLoader): the trainer
may start threads later (the pin-memory thread, a metrics server, CUDA's), and a fork taken while
another thread holds a lock copies the lock held. The template is forked once, when the pool
starts, and stays single-threaded but for its janitor, so every later fork is taken from a quiet
process. Like torch's forked workers, a worker must not use CUDA the trainer initialised.

Why not a fresh forkserver (the ``"forkserver"`` context): it is a new interpreter that imports
torch before the first worker can start (about 2 s, more on a loaded machine), and each worker
then unpickles its own copy of the pipeline.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing as mp
import os
import socket
import tempfile
import threading
import uuid
from dataclasses import dataclass
from multiprocessing import forkserver, reduction, resource_tracker, spawn, util
from multiprocessing.context import set_spawning_popen  # type: ignore[attr-defined]
from multiprocessing.popen_forkserver import Popen as ForkserverPopen  # type: ignore[attr-defined]
from multiprocessing.process import BaseProcess
from typing import Any, cast

_HELD: dict[str, Any] = {}  # token -> pipeline: set in the trainer only while the template forks


@dataclass(frozen=True)
class HeldPipeline:
    """What a worker receives in place of the pickled pipeline: the name of the template's copy.

    Attributes:
        token: Key of the pipeline in the template's memory (and so in every worker's).
    """

    token: str

    def get(self) -> Any:
        """The pipeline object, inherited from the template (in a worker process only)."""
        try:
            return _HELD[self.token]
        except KeyError:
            raise RuntimeError(
                f"pipeline {self.token} is not held by this process: a HeldPipeline only works in a worker "
                f"forked from its template"
            ) from None


def _serve(listener_fd: int, alive_r: int, alive_w: int, trainer_pid: int) -> None:
    """The template's main: the forkserver loop, plus a janitor that ends the tree with the trainer."""
    from stoker.backends import forkserver_janitor
    from stoker.data.heap import freeze_inherited

    os.close(alive_w)  # the trainer's end: only the trainer and the workers hold it
    freeze_inherited()  # its workers' collections then skip the trainer's heap (stoker.data.heap)
    threading.Thread(target=forkserver_janitor.watch, args=(trainer_pid,), name="stoker-janitor", daemon=True).start()
    try:
        forkserver.main(listener_fd, alive_r, [], None, None)
    finally:
        # The loop ends when no one holds the "alive" pipe: often because the trainer died and its
        # workers with it, before the janitor's thread woke up. Their files are this process's to remove.
        if os.getppid() != trainer_pid:
            forkserver_janitor.reap_tree(trainer_pid)


class Template:
    """A fork of the trainer holding ``pipeline``; :class:`TemplateProcess` objects start as its forks.

    Args:
        pipeline: The pipeline every worker runs (kept in the template's memory, not pickled).
    """

    def __init__(self, pipeline: Any) -> None:
        self.held = HeldPipeline(uuid.uuid4().hex)
        self._address = os.path.join(tempfile.mkdtemp(prefix="stoker-tpl-"), "sock")
        listener = socket.socket(socket.AF_UNIX)
        alive_r, self._alive_w = os.pipe()
        _HELD[self.held.token] = pipeline
        try:
            listener.bind(self._address)
            listener.listen()
            self._proc = mp.get_context("fork").Process(
                target=_serve,
                args=(listener.fileno(), alive_r, self._alive_w, os.getpid()),
                name="stoker-template",
                daemon=True,
            )
            self._proc.start()
        finally:
            del _HELD[self.held.token]  # the trainer has its own pipeline; only the template keeps this
            listener.close()
            os.close(alive_r)
        self.pid: int | None = self._proc.pid
        self._closed = False

    def connect(self, fds: list[int]) -> tuple[int, int]:
        """Asks the template for a new process (see ``ForkServer.connect_to_new_process``).

        Returns:
            ``(status_r, data_w)``: read the child's pid and later its exit code from the first,
            write the pickled preparation data and process object to the second.
        """
        if self._closed:
            raise RuntimeError("this worker template is closed")
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(self._address)
            parent_r, child_w = os.pipe()
            child_r, parent_w = os.pipe()
            try:
                tracker = cast(int, resource_tracker.getfd())
                reduction.sendfds(client, [child_r, child_w, self._alive_w, tracker, *fds])
            except BaseException:
                os.close(parent_r)
                os.close(parent_w)
                raise
            finally:
                os.close(child_r)
                os.close(child_w)
        return parent_r, parent_w

    def close(self, timeout: float = 2.0) -> None:
        """Ends the template once its workers are gone (their pool ends them first)."""
        if self._closed:
            return
        self._closed = True
        os.close(self._alive_w)  # the template's loop ends at EOF, once no worker holds it either
        self._proc.join(timeout)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(timeout)
        self._proc.close()
        with contextlib.suppress(OSError):
            os.unlink(self._address)
            os.rmdir(os.path.dirname(self._address))


class _TemplatePopen(ForkserverPopen):  # type: ignore[misc]
    """Launches a process as a fork of a :class:`Template` (CPython's forkserver protocol)."""

    _fds: list[int]  # set by ForkserverPopen: descriptors the child inherits (DupFd)

    def __init__(self, process_obj: TemplateProcess) -> None:
        self._template: Template = process_obj.__dict__.pop("template")  # not pickled into the child
        super().__init__(process_obj)

    def _launch(self, process_obj: TemplateProcess) -> None:
        prep_data = spawn.get_preparation_data(process_obj._name)  # type: ignore[attr-defined]
        buf = io.BytesIO()
        set_spawning_popen(self)
        try:
            reduction.dump(prep_data, buf)
            reduction.dump(process_obj, buf)
        finally:
            set_spawning_popen(None)
        self.sentinel, w = self._template.connect(self._fds)
        parent_w = os.dup(w)  # the child's sentinel of this parent
        self.finalizer = util.Finalize(self, util.close_fds, (parent_w, self.sentinel))  # type: ignore[attr-defined]
        with open(w, "wb", closefd=True) as f:
            f.write(buf.getbuffer())
        self.pid = forkserver.read_signed(self.sentinel)


class TemplateProcess(BaseProcess):
    """A ``multiprocessing.Process`` started as a fork of ``template``.

    Args:
        template: The template to fork from.
        **kwargs: As ``multiprocessing.Process`` (``target``, ``args``, ``name``, ``daemon``).
    """

    _start_method = None

    def __init__(self, template: Template, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.template = template

    @staticmethod
    def _Popen(process_obj: TemplateProcess) -> _TemplatePopen:
        return _TemplatePopen(process_obj)
