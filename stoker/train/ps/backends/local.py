"""The local backend: shard processes and trainer processes on this machine.

Shards run :func:`~stoker.train.ps.shard_process.shard_main`; tensors travel through shared
memory, messages through pipes (see that module). The parent keeps both ends of every pipe, so a
shard killed and restarted from its checkpoint gets the same pipes and slots.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import queue
import time
from typing import TYPE_CHECKING, Any

import cloudpickle
import torch

from stoker.backends.local import main_hidden  # same need as the data workers
from stoker.train.ps.backends.base import ShardBackend, ShardConfig
from stoker.train.ps.client import LocalClient
from stoker.train.ps.shard_process import ShardArgs, shard_main
from stoker.train.ps.worker import worker_main

if TYPE_CHECKING:
    from stoker.train.ps.worker import TrainSpec


def context() -> Any:
    """A forkserver context that preloads torch.

    A fresh process importing torch takes 1.2-1.8 s here; forked from a server that already
    imported it, about 0.013 s. That makes replacing a killed shard quick.
    """
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["torch", "stoker.train.ps.shard_process", "stoker.train.ps.worker"])
    return ctx


class LocalShards(ShardBackend):
    """Shard processes with their pipes and shared slots."""

    def __init__(self, config: ShardConfig) -> None:
        super().__init__(config)
        self.ctx = context()
        n, w, total = config.num_shards, config.num_workers, config.layout.total
        self.grad_slots = torch.zeros(w, total).share_memory_()
        self.pull_slots = torch.zeros(w, total).share_memory_()
        self.incarnations = torch.zeros(n, dtype=torch.int64).share_memory_()
        # pipes[s][k] = (worker end, shard end); the parent keeps both so restarts reuse them.
        self.pipes = [[self.ctx.Pipe() for _ in range(w)] for _ in range(n)]
        self.controls = [self.ctx.Pipe() for _ in range(n)]
        self.procs: list[Any] = [None] * n

    def _args(self, s: int, restore: bool) -> ShardArgs:
        c = self.config
        lo, hi = c.layout.shard_range(s)
        return ShardArgs(
            shard=s,
            lo=lo,
            hi=hi,
            init=c.shard_init(s),
            optim=c.optim,
            consistency=c.consistency,
            num_workers=c.num_workers,
            conns=[shard_end for _, shard_end in self.pipes[s]],
            control=self.controls[s][1],
            grad_slots=self.grad_slots,
            pull_slots=self.pull_slots,
            checkpoint_path=c.checkpoint_path(s),
            checkpoint_every=c.checkpoint_every,
            restore=restore,
        )

    def _spawn(self, s: int, restore: bool) -> None:
        proc = self.ctx.Process(target=shard_main, args=(self._args(s, restore),), name=f"stoker-ps-shard-{s}")
        proc.daemon = True
        with main_hidden():
            proc.start()
        self.procs[s] = proc

    def start(self) -> None:
        for s in range(self.config.num_shards):
            self._spawn(s, restore=False)
        if self.config.checkpoint_dir:
            # A shard killed before its first periodic checkpoint still has one to restart from.
            self.checkpoint(self.config.checkpoint_paths())

    def alive(self, s: int) -> bool:
        return self.procs[s] is not None and self.procs[s].is_alive()

    def restart(self, s: int) -> None:
        old = self.procs[s]
        if old is not None:
            old.kill()
            old.join()
        self._spawn(s, restore=True)
        self.incarnations[s] += 1

    def nodes(self) -> list[str]:
        return ["local"] * len(self.procs)

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def client(self, worker: int) -> LocalClient:
        return LocalClient(
            worker=worker,
            conns=[self.pipes[s][worker][0] for s in range(self.config.num_shards)],
            grad_slot=self.grad_slots[worker],
            pull_slot=self.pull_slots[worker],
            incarnations=self.incarnations,
        )

    def _ask(self, s: int, msg: tuple[Any, ...]) -> tuple[Any, ...]:
        conn = self.controls[s][0]
        conn.send(msg)
        reply = conn.recv()
        if reply[0] == "error":
            raise RuntimeError(f"shard {s}: {reply[1]}")
        return reply

    def states(self) -> list[dict[str, Any]]:
        return [self._ask(s, ("state",))[1] for s in range(len(self.procs))]

    def load(self, states: list[dict[str, Any]]) -> None:
        for s, st in enumerate(states):
            self._ask(s, ("load", st))

    def checkpoint(self, paths: list[str | None]) -> None:
        for s, path in enumerate(paths):
            self._ask(s, ("checkpoint", path))

    def run_workers(self, spec: TrainSpec, timeout_s: float) -> list[dict[str, Any]]:
        """One trainer process per worker, forked from the same torch-preloaded forkserver."""
        # cloudpickle: a model_fn or feed defined in the user's script travels by value, so workers
        # need not re-import that script (which main_hidden keeps them from doing).
        spec_bytes = cloudpickle.dumps(spec)
        results = self.ctx.Queue()
        n = self.config.num_workers
        procs = [
            self.ctx.Process(
                target=worker_main, args=(r, n, self.client(r), spec_bytes, results), name=f"stoker-ps-worker-{r}"
            )
            for r in range(n)
        ]
        with main_hidden():
            for p in procs:
                p.daemon = True
                p.start()
        stats: dict[int, dict[str, Any]] = {}
        deadline = time.monotonic() + timeout_s
        try:
            while len(stats) < n:
                try:
                    rank, kind, payload = results.get(timeout=0.5)
                except queue.Empty:  # nothing yet: check that the workers still live
                    dead = [p.name for p in procs if p.exitcode not in (None, 0)]
                    if dead:
                        raise RuntimeError(f"worker processes {dead} died without a result") from None
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"workers did not finish within {timeout_s=}") from None
                    continue
                if kind == "error":
                    raise RuntimeError(f"worker {rank} failed:\n{payload}")
                stats[rank] = payload
        finally:
            for p in procs:
                p.join(timeout=5)
                if p.is_alive():
                    p.kill()
                    p.join()
        return [stats[r] for r in range(n)]

    def close(self) -> None:
        for s, proc in enumerate(self.procs):
            if proc is not None and proc.is_alive():
                with contextlib.suppress(EOFError, OSError):
                    self._ask(s, ("stop",))
                proc.join(timeout=5)
                if proc.is_alive():
                    proc.kill()
                    proc.join()
        self.procs = [None] * len(self.procs)
