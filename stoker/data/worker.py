"""The main loop of a local data worker process.

Receives splits through its pipe, runs them with the :class:`Executor`, writes the arrays of
each result into shared memory and sends back only the small skeleton. ``None`` asks the worker
to exit after the splits it already holds (a drain), so scaling down loses no work.
"""

from __future__ import annotations

import os
import traceback
from dataclasses import replace
from multiprocessing.connection import Connection
from typing import Any

from stoker.data.executor import Executor, SplitResult
from stoker.data.transport import Arena, pack
from stoker.data.worker_setup import apply_setup


def worker_main(
    conn: Connection, pipeline_bytes: bytes, seed: int, on_error: str, shm_prefix: str, worker_id: int = 0
) -> None:
    """Runs in the worker process until drained or its pipe closes.

    Args:
        conn: Duplex pipe to the trainer.
        pipeline_bytes: The pipeline, cloudpickled by the trainer.
        seed: Per-sample RNG seed.
        on_error: ``"raise"`` or ``"skip"``.
        shm_prefix: Path prefix for this worker's payload files.
        worker_id: The worker's number in its pool (``get_worker_info().id``).
    """
    import torch

    # One intra-op thread per worker: parallelism comes from workers, and N workers x N
    # threads on N cores would only thrash (DataLoader does the same).
    torch.set_num_threads(1)
    try:
        import cloudpickle

        pipeline = cloudpickle.loads(pipeline_bytes)
        arena = Arena(f"{shm_prefix}-arena")
        executor = Executor(pipeline, seed, on_error, arena=arena)
        apply_setup(pipeline, worker_id)
    except BaseException:
        conn.send(("fatal", f"the worker could not load the pipeline:\n{traceback.format_exc()}"))
        return
    seq = 0
    while True:
        try:
            split = conn.recv()
        except (EOFError, OSError):
            arena.close()
            return  # the trainer is gone
        if split is None:
            arena.close()
            conn.send(("exit", None))
            return
        if isinstance(split, tuple):  # ("free", paths): the trainer is done with these files
            arena.give_back(split[1])
            if arena.forgotten:  # let the trainer unmap what will never come back
                conn.send(("forgot", arena.forgotten))
                arena.forgotten = []
            continue
        out: Any = executor.run(split)
        if isinstance(out, SplitResult):
            seq += 1
            out = replace(out, items=pack(out.items, f"{shm_prefix}-{seq}", arena))
        arena.release_all()  # arena tensors of a failed or filtered batch go back to the pool
        conn.send(("done", out))


def worker_pid() -> int:
    return os.getpid()
