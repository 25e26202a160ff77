"""Two real DistributedDataParallel ranks (gloo, CPU processes) with filtered and skipped batches.

Before the ranks were balanced, rank 0 lost two whole batches to the filter and rank 1 one to
``on_error="skip"``: rank 1 then waited forever in DDP's gradient all-reduce. Each rank must
finish with ``len(loader)`` steps, and the test must end (the join has a deadline).
"""

from __future__ import annotations

import datetime
import multiprocessing as mp
import os
import queue
import socket
import time

import torch
import torch.distributed as dist

import stoker

DEADLINE_S = 240.0  # generous: on a loaded 2-core machine a worker process takes tens of seconds to start


def _keep(i: int) -> bool:
    return not 0 <= i < 8 and not 32 <= i < 40  # two whole batches of rank 0


def _bad(i: int) -> torch.Tensor:
    if 24 <= i < 32 or i == 41:  # a whole batch of rank 1, and one sample of another
        raise ValueError(f"bad sample {i}")
    return torch.tensor([float(i)])


def _rank(rank: int, world: int, port: int, workers: int, out: mp.Queue) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world, timeout=datetime.timedelta(seconds=DEADLINE_S))
    try:
        model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(1, 1))
        pipe = stoker.from_items(list(range(64))).filter(_keep).map(_bad).batch(8)
        with stoker.Loader(pipe, workers=workers, rank=rank, world_size=world, on_error="skip") as loader:
            steps = 0
            for batch in loader:  # one gradient all-reduce per step: unequal counts hang here
                model(batch).sum().backward()
                steps += 1
            stats = loader.stats()
            out.put((rank, steps, len(loader), stats["skipped"], stats["padded_items"]))
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _collect(out: mp.Queue, procs: list) -> list:
    """Each rank's result; fails at once when a rank died, and after DEADLINE_S when they hang."""
    results, deadline = [], time.monotonic() + DEADLINE_S
    while len(results) < len(procs):
        try:
            results.append(out.get(timeout=0.5))
        except queue.Empty:
            dead = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
            assert not dead, f"a rank failed (exit codes {[p.exitcode for p in procs]})"
            assert time.monotonic() < deadline, f"ranks hung: {len(results)} of {len(procs)} finished"
    return results


def test_ddp_ranks_take_equal_steps_with_filtered_and_skipped_batches() -> None:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    port = _free_port()
    procs = [ctx.Process(target=_rank, args=(r, 2, port, r, out)) for r in range(2)]  # rank 1 has a worker
    for p in procs:
        p.start()
    try:
        results = sorted(_collect(out, procs))
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
                p.join()
    assert [p.exitcode for p in procs] == [0, 0]
    (_, steps0, len0, skipped0, padded0), (_, steps1, len1, skipped1, padded1) = results
    assert steps0 == steps1 == len0 == len1 == 4
    assert (skipped0, skipped1) == (0, 9) and (padded0, padded1) == (2, 1)
