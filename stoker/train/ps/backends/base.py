"""What every shard backend is given (:class:`ShardConfig`) and what it must do (:class:`ShardBackend`).

:class:`~stoker.train.ps.server.ParameterServer` builds one config record and hands it to the backend
its table names; it never asks which backend it holds. Both backends wrap the same
:class:`~stoker.train.ps.shard.ShardCore`, so they differ only in where a shard runs and how bytes
travel.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from stoker.train.ps.consistency import Consistency
from stoker.train.ps.optim import OptimSpec
from stoker.train.ps.sharding import Layout

if TYPE_CHECKING:
    from stoker.train.ps.worker import TrainSpec


@dataclass(frozen=True)
class ShardConfig:
    """Everything a backend needs to start, restore and serve the shards.

    Attributes:
        layout: The flat parameter vector's cut into shard ranges.
        init: Initial parameters, flat float32 (the layout's order).
        optim: The optimiser every shard runs on its range.
        consistency: BSP, SSP or ASP gate.
        num_workers: Workers that will push.
        checkpoint_dir: Where shard ``i`` writes ``shard-i.pt``; None: no checkpoints.
        checkpoint_every: A shard checkpoints after every this many updates (0: only on request).
    """

    layout: Layout
    init: torch.Tensor
    optim: OptimSpec
    consistency: Consistency
    num_workers: int
    checkpoint_dir: str | None = None
    checkpoint_every: int = 0

    @property
    def num_shards(self) -> int:
        return self.layout.num_shards

    def checkpoint_path(self, shard: int) -> str | None:
        """File shard ``shard`` checkpoints to (None without a checkpoint directory)."""
        return None if self.checkpoint_dir is None else os.path.join(self.checkpoint_dir, f"shard-{shard}.pt")

    def checkpoint_paths(self) -> list[str | None]:
        """Every shard's checkpoint file, in shard order."""
        return [self.checkpoint_path(s) for s in range(self.num_shards)]

    def shard_init(self, shard: int) -> torch.Tensor:
        """A copy of shard ``shard``'s range of the initial parameters."""
        lo, hi = self.layout.shard_range(shard)
        return self.init[lo:hi].clone()


class ShardBackend(ABC):
    """Runs the shards somewhere and the workers against them.

    Args:
        config: The shards to run.
    """

    #: True when the backend replaces a dead shard by itself (Ray restarts actors); otherwise the
    #: server's supervisor thread watches :meth:`alive` and calls :meth:`restart`.
    restarts_itself: ClassVar[bool] = False

    def __init__(self, config: ShardConfig) -> None:
        self.config = config

    @abstractmethod
    def start(self) -> None:
        """Starts every shard (and writes a first checkpoint when checkpointing is on)."""

    @abstractmethod
    def alive(self, shard: int) -> bool:
        """Whether shard ``shard`` is running."""

    @abstractmethod
    def restart(self, shard: int) -> None:
        """Replaces shard ``shard`` by one restored from its checkpoint."""

    @abstractmethod
    def pids(self) -> list[int]:
        """Process id of each shard."""

    @abstractmethod
    def nodes(self) -> list[str]:
        """Where each shard runs: a Ray node id, or ``"local"``."""

    @abstractmethod
    def client(self, worker: int) -> Any:
        """Worker ``worker``'s push/pull endpoint (picklable, used in the worker's process)."""

    @abstractmethod
    def states(self) -> list[dict[str, Any]]:
        """Each shard's ``state_dict()``, in shard order."""

    @abstractmethod
    def load(self, states: list[dict[str, Any]]) -> None:
        """Loads one ``state_dict()`` into each shard."""

    @abstractmethod
    def checkpoint(self, paths: list[str | None]) -> None:
        """Has shard ``i`` write its checkpoint to ``paths[i]`` now."""

    @abstractmethod
    def run_workers(self, spec: TrainSpec, timeout_s: float) -> list[dict[str, Any]]:
        """Runs ``num_workers`` trainers on ``spec`` against the shards; their stats in rank order.

        Raises:
            RuntimeError: A worker failed; the message carries its traceback.
        """

    @abstractmethod
    def close(self) -> None:
        """Stops every shard."""


def save_atomic(state: dict[str, Any], path: str) -> None:
    """Writes ``state`` so that a reader sees either the old file or the new one, never half."""
    tmp = f"{path}.tmp{os.getpid()}"
    torch.save(state, tmp)
    os.replace(tmp, path)
