"""``ParameterServer``: shards started, supervised, checkpointed and restored from one handle.

Typical use::

    with ParameterServer(model, num_shards=2, optimizer="sgd", consistency="ssp:2",
                         num_workers=4, checkpoint_dir="ckpt", checkpoint_every=10) as ps:
        stats = ps.train(spec)          # worker processes push and pull until done
        model.load_state_dict(ps.model_state())

Where the shards and workers run is a backend from :mod:`stoker.train.ps.backends`, built from a
:class:`ShardConfig` record: local processes (default, ``backend="local"``) or Ray actors
(``backend="ray"``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from typing import Any

import torch

from stoker.train.ps.backends import ShardBackend, ShardConfig, shard_backend
from stoker.train.ps.consistency import Consistency
from stoker.train.ps.optim import OptimSpec
from stoker.train.ps.sharding import Layout, plan_layout


def flatten(tensors: Iterable[torch.Tensor]) -> torch.Tensor:
    """Lays tensors end to end in one flat float vector (the layout's order)."""
    return torch.cat([t.detach().reshape(-1) for t in tensors])


def _as_named(model: torch.nn.Module | dict[str, torch.Tensor]) -> list[tuple[str, torch.Tensor]]:
    if isinstance(model, torch.nn.Module):
        return [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    return list(model.items())


class ParameterServer:
    """A sharded parameter server.

    Args:
        model: Model (its trainable parameters) or ``{name: tensor}`` giving the initial values.
        num_shards: Shards; parameters are cut into this many ranges of equal bytes.
        optimizer: ``"sgd"``/``"adam"`` or an :class:`OptimSpec` (e.g. with momentum).
        consistency: ``"bsp"``, ``"asp"``, ``"ssp:S"`` or a :class:`Consistency`.
        num_workers: Workers that will push.
        backend: ``"local"`` (processes) or ``"ray"`` (actors).
        checkpoint_dir: Where each shard writes ``shard-I.pt``; enables restarting killed shards.
        checkpoint_every: A shard checkpoints after every this many updates (0: only on request).
    """

    def __init__(
        self,
        model: torch.nn.Module | dict[str, torch.Tensor],
        num_shards: int = 2,
        optimizer: str | OptimSpec = "sgd",
        consistency: str | Consistency = "bsp",
        num_workers: int = 1,
        backend: str = "local",
        checkpoint_dir: str | os.PathLike[str] | None = None,
        checkpoint_every: int = 0,
    ) -> None:
        named = _as_named(model)
        dtypes = {t.dtype for _, t in named}
        if dtypes != {torch.float32}:
            raise ValueError(f"parameters have dtypes {dtypes}; the parameter server holds float32 only")
        self._backend_cls = shard_backend(backend)
        self.backend = backend
        self.config = ShardConfig(
            layout=plan_layout([(n, tuple(t.shape)) for n, t in named], num_shards),
            init=flatten(t for _, t in named),
            optim=optimizer if isinstance(optimizer, OptimSpec) else OptimSpec(optimizer),
            consistency=consistency if isinstance(consistency, Consistency) else Consistency.parse(consistency),
            num_workers=num_workers,
            checkpoint_dir=None if checkpoint_dir is None else os.fspath(checkpoint_dir),
            checkpoint_every=checkpoint_every,
        )
        self._impl: ShardBackend | None = None
        self._watch: threading.Thread | None = None
        self._stop = threading.Event()
        # One restart at a time: without it the supervisor sees the shard that restart_shard() has
        # just killed as dead and starts a second process on the same pipes, which then split the
        # workers' messages between them.
        self._restarting = threading.RLock()
        self.restarts = 0

    # The config's fields, read-only, under the names callers have used.
    @property
    def layout(self) -> Layout:
        return self.config.layout

    @property
    def init(self) -> torch.Tensor:
        return self.config.init

    @property
    def optim(self) -> OptimSpec:
        return self.config.optim

    @property
    def consistency(self) -> Consistency:
        return self.config.consistency

    @property
    def num_workers(self) -> int:
        return self.config.num_workers

    @property
    def checkpoint_dir(self) -> str | None:
        return self.config.checkpoint_dir

    @property
    def checkpoint_every(self) -> int:
        return self.config.checkpoint_every

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> ParameterServer:
        """Starts the shards (and, with a checkpoint directory, a thread that restarts dead ones)."""
        if self._impl is not None:
            return self
        if self.checkpoint_dir:
            os.makedirs(self.checkpoint_dir, exist_ok=True)
        self._impl = self._backend_cls(self.config)
        self._impl.start()
        if self.checkpoint_dir and not self._impl.restarts_itself:
            self._watch = threading.Thread(target=self._supervise, name="stoker-ps-supervisor", daemon=True)
            self._watch.start()
        return self

    def close(self) -> None:
        """Stops the shards and the supervisor."""
        self._stop.set()
        if self._watch is not None:
            self._watch.join()
            self._watch = None
        if self._impl is not None:
            self._impl.close()
            self._impl = None

    def __enter__(self) -> ParameterServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _supervise(self) -> None:
        impl = self._require()
        while not self._stop.wait(0.05):
            for s in range(self.layout.num_shards):
                with self._restarting:
                    if not impl.alive(s) and not self._stop.is_set():
                        self.restart_shard(s)

    # -- shards ----------------------------------------------------------------------------
    def checkpoint_path(self, shard: int) -> str | None:
        """File shard ``shard`` checkpoints to (None without a checkpoint directory)."""
        return self.config.checkpoint_path(shard)

    def restart_shard(self, shard: int) -> None:
        """Replaces shard ``shard`` by a new one restored from its latest checkpoint.

        Updates the shard applied after that checkpoint are lost (its range rolls back); the
        workers resend their last gradient, so training continues.
        """
        path = self.checkpoint_path(shard)
        if path is None or not os.path.exists(path):
            raise RuntimeError(
                f"shard {shard} died and has no checkpoint to restore from ({path=}); "
                "pass checkpoint_dir= and checkpoint_every= to ParameterServer"
            )
        with self._restarting:
            self._require().restart(shard)
            self.restarts += 1

    def shard_pids(self) -> list[int]:
        """Process ids of the local shards (to watch or to kill in a test)."""
        return self._require().pids()

    def shard_nodes(self) -> list[str]:
        """Where each shard runs: a Ray node id, or ``"local"`` for local processes."""
        return self._require().nodes()

    def client(self, worker: int) -> Any:
        """The push/pull endpoint for worker ``worker`` (pass it to that worker's process)."""
        if not 0 <= worker < self.num_workers:
            raise ValueError(f"{worker=} should be in [0, {self.num_workers=})")
        return self._require().client(worker)

    def _require(self) -> ShardBackend:
        if self._impl is None:
            raise RuntimeError("the parameter server is not started; call start() or use it in a with-block")
        return self._impl

    # -- state -----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """All shards' parameters, optimiser state and clocks."""
        return {"bounds": self.layout.bounds, "shards": self._require().states()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if tuple(state["bounds"]) != self.layout.bounds:
            raise ValueError(
                f"state was saved with shard bounds {state['bounds']}, this server has {self.layout.bounds}; "
                "use the same model and num_shards"
            )
        self._require().load(state["shards"])

    def checkpoint(self) -> None:
        """Has every shard write its checkpoint now."""
        if self.checkpoint_dir is None:
            raise RuntimeError("checkpoint() needs checkpoint_dir= on the ParameterServer")
        self._require().checkpoint(self.config.checkpoint_paths())

    def flat_params(self) -> torch.Tensor:
        """The current parameters, flat, gathered from every shard."""
        return torch.cat([s["params"] for s in self._require().states()])

    def model_state(self) -> dict[str, torch.Tensor]:
        """The current parameters as ``{name: tensor}`` (for ``model.load_state_dict(..., strict=False)``)."""
        flat = self.flat_params()
        return {p.name: flat[p.offset : p.offset + p.numel].view(p.shape).clone() for p in self.layout.params}

    # -- training --------------------------------------------------------------------------
    def train(self, spec: Any, timeout_s: float = 3600.0) -> list[dict[str, Any]]:
        """Runs ``num_workers`` trainers on ``spec`` (a :class:`~stoker.train.ps.worker.TrainSpec`).

        The backend runs them: local processes, or Ray tasks.

        Args:
            spec: What every worker runs.
            timeout_s: Give up (``TimeoutError``) when the workers have not finished by then, seconds.

        Returns:
            Each worker's stats (steps, losses, largest staleness seen), in worker order.

        Raises:
            ValueError: The LR rule cannot run under this consistency or worker count.
            RuntimeError: A worker failed; the message carries its traceback.
        """
        if spec.lr.rule == "adascale" and (not self.consistency.synchronous or self.num_workers < 2):
            raise ValueError(
                f"the adascale rule estimates gradient noise from the workers' gradients of one BSP round; "
                f"it needs consistency='bsp' and num_workers >= 2, got {self.consistency} and {self.num_workers=}"
            )
        return self._require().run_workers(spec, timeout_s)
