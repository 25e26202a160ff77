"""The main loop of a local data worker process.

Receives :mod:`~stoker.data.protocol` messages through its pipe, runs splits with the
:class:`Executor`, writes the arrays of each result into shared memory and sends back only the
small skeleton. :class:`~stoker.data.protocol.Drain` asks the worker to exit after the splits it
already holds, so scaling down loses no work. The worker ends itself when its trainer is gone
(see :mod:`stoker.backends.lifeline`).
"""

from __future__ import annotations

import os
import signal
import traceback
from dataclasses import replace
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler
from typing import Any

from stoker.backends.template import HeldPipeline
from stoker.data import protocol as msg
from stoker.data.executor import Executor, SplitFailure, SplitResult
from stoker.data.heap import freeze_inherited
from stoker.data.transport import Arena, Packed, discard, pack
from stoker.data.worker_setup import apply_setup


def _unsendable(out: SplitResult, exc: BaseException, indices: tuple[int, ...]) -> SplitFailure:
    """A result that cannot be pickled becomes a failure naming the type and the reason."""
    return SplitFailure(
        out.key,
        f"{type(exc).__name__} while sending the result of split {out.key} to the trainer: {exc}. "
        f"A map or collate returned something that cannot leave the worker process (a generator, an open "
        f"file, a lock, a socket); return plain tensors, arrays, numbers, strings or objects of them.",
        indices,
        None,
        "send",
        "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
        exc_type=type(exc).__name__,
        exc_module=type(exc).__module__,
        exc_message=str(exc),
        exc_qualname=type(exc).__qualname__,
    )


def worker_main(
    conn: Connection,
    pipeline_in: bytes | HeldPipeline,
    seed: int,
    on_error: str,
    shm_prefix: str,
    trainer_pid: int | None = None,
    trainer_created: float | None = None,
    shm_files: int = 8,
    worker_id: int = 0,
) -> None:
    """Runs in the worker process until drained or its trainer is gone.

    Args:
        conn: Duplex pipe to the trainer.
        pipeline_in: The pipeline, cloudpickled by the trainer, or held by the template this
            process was forked from (:mod:`stoker.backends.template`).
        seed: Per-sample RNG seed.
        on_error: ``"raise"`` or ``"skip"``.
        shm_prefix: Path prefix for this worker's payload files.
        trainer_pid: The trainer's pid (the worker ends when it is gone).
        trainer_created: The trainer's start time, to tell a reused pid.
        shm_files: Most pooled shared-memory files this worker owns at once.
        worker_id: The worker's number in its pool (``get_worker_info().id``).
    """
    import torch

    from stoker.backends import lifeline

    # Ctrl-C reaches the whole process group; the trainer decides what happens, not the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if trainer_pid is not None:
        if os.getppid() != trainer_pid:
            # Our parent is the forkserver, which ends with the trainer: die with it, even stopped.
            lifeline.set_parent_death_signal(signal.SIGKILL)
            if os.getppid() == 1:
                return
        lifeline.watch_trainer(trainer_pid, trainer_created, conn.fileno(), lambda: lifeline.unlink_prefix(shm_prefix))
    # One intra-op thread per worker: parallelism comes from workers, and N workers x N
    # threads on N cores would only thrash (DataLoader does the same).
    torch.set_num_threads(1)
    try:
        if isinstance(pipeline_in, HeldPipeline):
            pipeline = pipeline_in.get()  # inherited: nothing to unpickle, the source's pages stay shared
        else:
            import cloudpickle

            pipeline = cloudpickle.loads(pipeline_in)
        arena = Arena(f"{shm_prefix}-arena", cap=shm_files)
        executor = Executor(pipeline, seed, on_error, arena=arena, catch=BaseException)
        apply_setup(pipeline, worker_id)
        freeze_inherited()  # the first full collection would walk the trainer's heap (stoker.data.heap)
        # In a traced split, say which sample starts: a crash then blames that sample alone.
        executor.on_sample = lambda s, pos: conn.send(msg.Started((s.epoch, s.index, pos)))
    except BaseException:
        conn.send(msg.Broken(f"the worker could not load the pipeline:\n{traceback.format_exc()}"))
        return
    seq = 0
    while True:
        try:
            message = msg.expect(conn.recv(), msg.TO_WORKER)
        except (EOFError, OSError):
            arena.close()
            return  # the trainer is gone
        if isinstance(message, msg.Drain):
            arena.close()
            conn.send(msg.Bye())
            return
        if isinstance(message, msg.Free):
            arena.give_back(message.paths)
            if arena.forgotten:  # let the trainer unmap what will never come back
                conn.send(msg.Forgot(tuple(arena.forgotten)))
                arena.forgotten = []
            continue
        split = message.split
        conn.send(msg.Started(split.key))
        out: Any = executor.run(split)
        packed: Packed | None = None
        try:
            if isinstance(out, SplitResult):
                seq += 1
                packed = pack(out.items, f"{shm_prefix}-{seq}", arena)
                out = replace(out, items=packed)
            data = ForkingPickler.dumps(msg.Result(out))
        except (Exception, SystemExit, KeyboardInterrupt) as exc:  # pickling runs user __reduce__ code
            if packed is not None:
                discard(Packed(b"", packed.files[:1]))  # the per-split copy; arena files go back
                arena.give_back(path for path, _ in packed.files[1:])
            data = ForkingPickler.dumps(msg.Result(_unsendable(out, exc, split.indices)))
        arena.release_all()  # arena tensors of a failed or filtered batch go back to the pool
        conn.send_bytes(bytes(data))


def worker_pid() -> int:
    return os.getpid()
