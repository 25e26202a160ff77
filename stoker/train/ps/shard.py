"""One shard's state machine: its parameter range, optimiser state and the workers' clocks.

Transport-free, so the local process backend, the Ray actor and the unit tests drive the same
code. A push is identified by ``(worker, clock)`` and applied at most once, so a client may
resend after a shard restart without double-applying.

A shard restored from a checkpoint has lost the pushes after it, and a worker can resend only its
last gradient (its slot holds no older one). So a BSP round the restored shard still waits for may
lack a worker that has already pushed a later clock, which it will never push again: the round
is then completed with the gradients it has (their mean), instead of waiting forever.
"""

from __future__ import annotations

from typing import Any

import torch

from stoker.train.ps.consistency import Consistency, may_read
from stoker.train.ps.optim import OptimSpec


class ShardCore:
    """A parameter range with its optimiser.

    Args:
        shard: Index of this shard.
        params: This shard's flat parameter range (copied; the shard owns its copy).
        optim: Optimiser recipe.
        consistency: Consistency model.
        num_workers: Workers that push.
    """

    def __init__(
        self, shard: int, params: torch.Tensor, optim: OptimSpec, consistency: Consistency, num_workers: int
    ) -> None:
        if num_workers < 1:
            raise ValueError(f"{num_workers=} should be >= 1")
        self.shard = shard
        self.params = params.detach().clone()
        self.optim_spec = optim
        self.opt = optim.build()
        self.consistency = consistency
        self.num_workers = num_workers
        self.clocks = [0] * num_workers
        self.pushed = [0] * num_workers  # the highest clock each worker pushed here
        self.updates = 0
        self.sqnorms: tuple[tuple[float, ...], float] | None = None  # of the last BSP round
        self._saved_at = 0  # updates at the last periodic checkpoint (not state: a restart starts over)
        # BSP: gradients of a round not yet complete, {clock: {worker: (grad, lr)}}.
        self.rounds: dict[int, dict[int, tuple[torch.Tensor, float]]] = {}

    def push(self, worker: int, clock: int, grad: torch.Tensor, lr: float) -> bool:
        """Takes worker's gradient for its ``clock``-th push; returns False for a duplicate.

        BSP averages a round's gradients into one update once every worker has pushed; SSP and
        ASP apply each push at once with weight ``1/num_workers``, so one round of pushes moves
        the parameters as far as one BSP update.
        """
        if not 0 <= worker < self.num_workers:
            raise ValueError(f"{worker=} should be in [0, {self.num_workers})")
        if clock <= self.clocks[worker] or worker in self.rounds.get(clock, {}):
            return False
        self.pushed[worker] = max(self.pushed[worker], clock)
        if not self.consistency.synchronous:
            self._apply(grad.div(self.num_workers), lr)
            self.clocks[worker] = clock
            return True
        self.rounds.setdefault(clock, {})[worker] = (grad.detach().clone(), lr)
        self._complete_rounds()
        return True

    def _complete_rounds(self) -> None:
        """Applies, oldest first, every BSP round no worker will add to any more."""
        for clock in sorted(self.rounds):
            pending = self.rounds[clock]
            # A worker missing from the round that pushed a later clock lost this gradient in a
            # restore (see the module docstring); one that has not got this far is still to come.
            if any(w not in pending and self.pushed[w] <= clock for w in range(self.num_workers)):
                return
            # Sum in worker order so the result does not depend on arrival order.
            present = sorted(pending)
            grads = torch.stack([pending[w][0] for w in present])
            mean = grads.sum(0).div(len(present))
            # This range's share of |g_w|^2 and |mean g|^2: summed over shards they give AdaScale's
            # gradient statistics (stoker.train.lr.adascale.grad_stats); none for a round that lost a
            # worker's gradient (AdaScale then keeps gain 1 for that step).
            whole = len(present) == self.num_workers
            self.sqnorms = (
                (tuple(float(v) for v in grads.square().sum(1)), float(mean.square().sum())) if whole else None
            )
            self._apply(mean, pending[present[0]][1])
            del self.rounds[clock]
            self.clocks = [max(c, clock) for c in self.clocks]

    def readable(self, clock: int) -> bool:
        """Whether a worker that has pushed ``clock`` gradients may pull now."""
        return may_read(self.consistency, clock, self.clocks)

    def checkpoint_due(self, every: int) -> bool:
        """Whether ``every`` updates have passed since the last time this returned True."""
        if every <= 0 or self.updates - self._saved_at < every:
            return False
        self._saved_at = self.updates
        return True

    def _apply(self, grad: torch.Tensor, lr: float) -> None:
        self.opt.step(self.params, grad, lr)
        self.updates += 1

    def state_dict(self) -> dict[str, Any]:
        return {
            "shard": self.shard,
            "params": self.params.clone(),
            "optim": self.opt.state_dict(),
            "clocks": list(self.clocks),
            "pushed": list(self.pushed),
            "updates": self.updates,
            "sqnorms": self.sqnorms,
            "rounds": {c: {w: (g.clone(), lr) for w, (g, lr) in r.items()} for c, r in self.rounds.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["params"].shape != self.params.shape:
            raise ValueError(
                f"checkpoint of shard {state['shard']} holds {tuple(state['params'].shape)} elements, "
                f"shard {self.shard} expects {tuple(self.params.shape)}: "
                "was the model or the shard count changed?"
            )
        self.params.copy_(state["params"])
        self.opt.load_state_dict(state["optim"])
        self.clocks = list(state["clocks"])
        self.pushed = list(state.get("pushed", state["clocks"]))  # checkpoints written before it was kept
        self.updates = state["updates"]
        self.sqnorms = state["sqnorms"]
        self._saved_at = self.updates
        self.rounds = {c: {w: (g.clone(), lr) for w, (g, lr) in r.items()} for c, r in state["rounds"].items()}
