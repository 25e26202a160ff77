"""The Ray backend: shards as Ray actors, one per node (using that node's CPUs), workers as Ray tasks;
tensors through the object store.

A shard actor wraps the same :class:`ShardCore` as the local backend. Pulls that the consistency
model holds back wait on an ``asyncio.Condition`` inside the (async) actor, so pushes keep
flowing meanwhile. Actors are created with ``max_restarts=-1``: Ray restarts a killed shard,
whose ``__init__`` restores the latest checkpoint, and retries the calls in flight
(``max_task_retries=-1``); pushes are keyed by ``(worker, clock)`` so a retry applies once. Each
actor incarnation has a boot id; a client waiting on a pull that sees a new boot id resends its
last gradient, which the restored shard had lost.

Ray is imported only when this backend is used.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from stoker.train.ps.backends.base import ShardBackend, ShardConfig, save_atomic
from stoker.train.ps.client import combine_sqnorms
from stoker.train.ps.consistency import Consistency
from stoker.train.ps.optim import OptimSpec
from stoker.train.ps.shard import ShardCore

if TYPE_CHECKING:
    from stoker.train.ps.worker import TrainSpec


class ShardActor:
    """One shard as a Ray actor (wrapped with ``ray.remote`` by :class:`RayShards`)."""

    def __init__(
        self,
        shard: int,
        init: np.ndarray,
        optim: OptimSpec,
        consistency: Consistency,
        num_workers: int,
        checkpoint_path: str | None,
        checkpoint_every: int,
    ) -> None:
        torch.set_num_threads(1)
        self.core = ShardCore(shard, torch.from_numpy(np.array(init)), optim, consistency, num_workers)
        self.path, self.every = checkpoint_path, checkpoint_every
        if self.path and os.path.exists(self.path):  # a restart by Ray: resume from the checkpoint
            self.core.load_state_dict(torch.load(self.path, weights_only=False))
        self.boot = uuid.uuid4().hex
        self._cond: asyncio.Condition | None = None

    def _condition(self) -> asyncio.Condition:
        if self._cond is None:
            self._cond = asyncio.Condition()  # made inside the actor's event loop
        return self._cond

    async def push(self, worker: int, clock: int, grad: np.ndarray, lr: float) -> str:
        self.core.push(worker, clock, torch.from_numpy(np.array(grad)), lr)
        if self.path and self.core.checkpoint_due(self.every):
            save_atomic(self.core.state_dict(), self.path)
        async with self._condition():
            self._condition().notify_all()
        return self.boot

    async def pull(self, worker: int, clock: int) -> tuple[np.ndarray, tuple[int, ...], Any]:
        async with self._condition():
            await self._condition().wait_for(lambda: self.core.readable(clock))
        return self.core.params.numpy().copy(), tuple(self.core.clocks), self.core.sqnorms

    async def boot_id(self) -> str:
        return self.boot

    async def pid(self) -> int:
        return os.getpid()

    async def node(self) -> str:
        import ray

        return ray.get_runtime_context().get_node_id()

    async def state(self) -> dict[str, Any]:
        return self.core.state_dict()

    async def load(self, state: dict[str, Any]) -> None:
        self.core.load_state_dict(state)

    async def checkpoint(self, path: str) -> None:
        save_atomic(self.core.state_dict(), path)


@dataclass
class RayClient:
    """Push/pull endpoint of one worker against shard actors (picklable)."""

    worker: int
    actors: list[Any]
    bounds: tuple[int, ...]
    _boots: list[str | None] = field(default_factory=list)
    _last: tuple[int, float, list[Any]] | None = None
    sqnorms: tuple[list[float], float] | None = None

    def push(self, flat_grad: torch.Tensor, clock: int, lr: float) -> None:
        import ray

        parts = [ray.put(flat_grad[lo:hi].numpy()) for lo, hi in zip(self.bounds, self.bounds[1:])]
        self._last = (clock, lr, parts)
        self._boots = ray.get([a.push.remote(self.worker, clock, p, lr) for a, p in zip(self.actors, parts)])

    def pull(self, clock: int) -> tuple[torch.Tensor, int]:
        refs = [a.pull.remote(self.worker, clock) for a in self.actors]
        replies = [self._await(s, ref) for s, ref in enumerate(refs)]
        flat = torch.from_numpy(np.concatenate([r[0] for r in replies]))
        self.sqnorms = combine_sqnorms([r[2] for r in replies])
        return flat, min(min(r[1]) for r in replies)

    def _await(self, s: int, ref: Any) -> Any:
        import ray

        while True:
            ready, _ = ray.wait([ref], timeout=0.5)
            if ready:
                return ray.get(ref)
            boot = ray.get(self.actors[s].boot_id.remote())
            if self._last is not None and self._boots and boot != self._boots[s]:
                # The shard restarted from a checkpoint older than our last push: push it again.
                clock, lr, parts = self._last
                self._boots[s] = ray.get(self.actors[s].push.remote(self.worker, clock, parts[s], lr))


class RayShards(ShardBackend):
    """Shard actors spread one per node (soft affinity), each with ``cpus_per_shard`` CPUs."""

    restarts_itself = True  # actors run with max_restarts=-1 and restore in __init__

    def __init__(self, config: ShardConfig, cpus_per_shard: float = 1.0) -> None:
        super().__init__(config)
        self.cpus = cpus_per_shard
        self.actors: list[Any] = []

    def start(self) -> None:
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        if not ray.is_initialized():
            ray.init(ignore_reinit_error=True, include_dashboard=False)
        nodes = sorted(n["NodeID"] for n in ray.nodes() if n["Alive"])
        remote = ray.remote(ShardActor)
        c = self.config
        for s in range(c.num_shards):
            self.actors.append(
                remote.options(
                    num_cpus=self.cpus,
                    max_restarts=-1,
                    max_task_retries=-1,
                    scheduling_strategy=NodeAffinitySchedulingStrategy(nodes[s % len(nodes)], soft=True),
                ).remote(
                    s,
                    c.shard_init(s).numpy(),
                    c.optim,
                    c.consistency,
                    c.num_workers,
                    c.checkpoint_path(s),
                    c.checkpoint_every,
                )
            )
        if c.checkpoint_dir:
            self.checkpoint(c.checkpoint_paths())

    def alive(self, s: int) -> bool:
        return True  # Ray restarts dead shard actors itself

    def restart(self, s: int) -> None:
        import ray

        ray.kill(self.actors[s], no_restart=False)

    def pids(self) -> list[int]:
        import ray

        return ray.get([a.pid.remote() for a in self.actors])

    def nodes(self) -> list[str]:
        """Ray node id of each shard."""
        import ray

        return ray.get([a.node.remote() for a in self.actors])

    def client(self, worker: int) -> RayClient:
        return RayClient(worker, list(self.actors), self.config.layout.bounds)

    def states(self) -> list[dict[str, Any]]:
        import ray

        return ray.get([a.state.remote() for a in self.actors])

    def load(self, states: list[dict[str, Any]]) -> None:
        import ray

        ray.get([a.load.remote(st) for a, st in zip(self.actors, states)])

    def checkpoint(self, paths: list[str | None]) -> None:
        import ray

        ray.get([a.checkpoint.remote(p) for a, p in zip(self.actors, paths)])

    def run_workers(self, spec: TrainSpec, timeout_s: float) -> list[dict[str, Any]]:
        """One Ray task per worker, each running the same trainer loop as the local backend."""
        import ray

        from stoker.train.ps.worker import train_loop

        task = ray.remote(num_cpus=1, max_retries=0)(_ray_worker)
        n = self.config.num_workers
        refs = [task.remote(train_loop, r, n, self.client(r), spec) for r in range(n)]
        try:
            return ray.get(refs, timeout=timeout_s)
        except ray.exceptions.GetTimeoutError:
            for ref in refs:
                ray.cancel(ref, force=True)
            raise TimeoutError(f"workers did not finish within {timeout_s=}") from None

    def close(self) -> None:
        import ray

        for a in self.actors:
            ray.kill(a, no_restart=True)
        self.actors = []


def _ray_worker(loop: Any, rank: int, n: int, client: RayClient, spec: TrainSpec) -> dict[str, Any]:
    torch.set_num_threads(1)
    return loop(rank, n, client, spec)
