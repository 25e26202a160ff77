"""The parent's side of the local backend: starts, stops, restarts shard processes."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
from typing import TYPE_CHECKING, Any

import torch

from stoker.backends.local import main_hidden  # same need as the data workers
from stoker.train.ps.client import LocalClient
from stoker.train.ps.local import ShardArgs, shard_main

if TYPE_CHECKING:
    from stoker.train.ps.server import ParameterServer


def context() -> Any:
    """A forkserver context that preloads torch.

    A fresh process importing torch takes 1.2-1.8 s here; forked from a server that already
    imported it, about 0.013 s. That makes replacing a killed shard quick.
    """
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["torch", "stoker.train.ps.local", "stoker.train.ps.worker"])
    return ctx


__all__ = ["LocalShards", "context", "main_hidden"]


class LocalShards:
    """Shard processes with their pipes and shared slots."""

    def __init__(self, ps: ParameterServer) -> None:
        self.ps = ps
        self.ctx = context()
        n, w, total = ps.layout.num_shards, ps.num_workers, ps.layout.total
        self.grad_slots = torch.zeros(w, total).share_memory_()
        self.pull_slots = torch.zeros(w, total).share_memory_()
        self.incarnations = torch.zeros(n, dtype=torch.int64).share_memory_()
        # pipes[s][k] = (worker end, shard end); the parent keeps both so restarts reuse them.
        self.pipes = [[self.ctx.Pipe() for _ in range(w)] for _ in range(n)]
        self.controls = [self.ctx.Pipe() for _ in range(n)]
        self.procs: list[Any] = [None] * n

    def _args(self, s: int, restore: bool) -> ShardArgs:
        lo, hi = self.ps.layout.shard_range(s)
        return ShardArgs(
            shard=s,
            lo=lo,
            hi=hi,
            init=self.ps.init[lo:hi].clone(),
            optim=self.ps.optim,
            consistency=self.ps.consistency,
            num_workers=self.ps.num_workers,
            conns=[shard_end for _, shard_end in self.pipes[s]],
            control=self.controls[s][1],
            grad_slots=self.grad_slots,
            pull_slots=self.pull_slots,
            checkpoint_path=self.ps.checkpoint_path(s),
            checkpoint_every=self.ps.checkpoint_every,
            restore=restore,
        )

    def _spawn(self, s: int, restore: bool) -> None:
        proc = self.ctx.Process(target=shard_main, args=(self._args(s, restore),), name=f"stoker-ps-shard-{s}")
        proc.daemon = True
        with main_hidden():
            proc.start()
        self.procs[s] = proc

    def start(self) -> None:
        for s in range(self.ps.layout.num_shards):
            self._spawn(s, restore=False)
        if self.ps.checkpoint_dir:
            # A shard killed before its first periodic checkpoint still has one to restart from.
            self.checkpoint([self.ps.checkpoint_path(s) for s in range(self.ps.layout.num_shards)])

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
            conns=[self.pipes[s][worker][0] for s in range(self.ps.layout.num_shards)],
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
