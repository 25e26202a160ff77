"""The worker's side of the local parameter server: push gradients, pull parameters.

A request goes to every shard and waits for each reply. While waiting the client watches each
shard's *incarnation* (bumped by the parent when it restarts a shard); on a change it resends,
because the dead process may have read the request without answering. Pushes are keyed by
``(worker, clock)`` and applied at most once, and replies carry the request id, so resending is safe.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import torch


def combine_sqnorms(parts: list[tuple[tuple[float, ...], float] | None]) -> tuple[list[float], float] | None:
    """Sums the shards' shares of ``|g_w|^2`` and ``|mean g|^2`` (None until a BSP round is done)."""
    if not parts or any(p is None for p in parts):
        return None
    per_worker = [sum(vals) for vals in zip(*(p[0] for p in parts if p is not None))]
    return per_worker, sum(p[1] for p in parts if p is not None)


@dataclass
class LocalClient:
    """Push/pull endpoint of one worker (picklable; built by ``ParameterServer.client``).

    Attributes:
        worker: Worker index.
        conns: One pipe end per shard.
        grad_slot: Shared flat gradient buffer of this worker (model size).
        pull_slot: Shared flat parameter buffer of this worker (model size).
        incarnations: Shared ``int64[num_shards]``: restarts of each shard.
        timeout_s: Seconds to wait for a shard's reply before giving up.
    """

    worker: int
    conns: list[Connection]
    grad_slot: torch.Tensor
    pull_slot: torch.Tensor
    incarnations: torch.Tensor
    timeout_s: float = 300.0
    _req: int = 0
    _last_push: tuple[int, float] | None = field(default=None, repr=False)
    sqnorms: tuple[list[float], float] | None = field(default=None, repr=False)
    # Each shard's incarnation when our last push was sent to it.
    _push_seen: list[int] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self._push_seen = [0] * len(self.conns)

    def push(self, flat_grad: torch.Tensor, clock: int, lr: float) -> None:
        """Sends this worker's ``clock``-th gradient (flat, model size) at learning rate ``lr``."""
        self.grad_slot.copy_(flat_grad)
        self._last_push = (clock, lr)
        self._request(("push", clock, lr), "ack")

    def pull(self, clock: int) -> tuple[torch.Tensor, int]:
        """Fetches the parameters a worker that has pushed ``clock`` gradients may read.

        Returns:
            The flat parameters (a view of the shared slot: copy before the next pull) and the
            slowest worker's clock as the shards saw it (``clock - that`` is the staleness).
        """
        replies = self._request(("pull", clock), "params")
        self.sqnorms = combine_sqnorms([r[3] for r in replies])
        return self.pull_slot, min(min(r[2]) for r in replies)

    def _request(self, msg: tuple[Any, ...], want: str) -> list[tuple[Any, ...]]:
        self._req += 1
        req = self._req
        seen = [int(i) for i in self.incarnations]
        for s, conn in enumerate(self.conns):
            if msg[0] == "push":
                self._push_seen[s] = seen[s]
            elif self._push_seen[s] != seen[s]:
                # The shard restarted after acknowledging our last push (and may have lost it):
                # push it again before pulling, or a BSP round would wait for it forever.
                self._repush(s)
                self._push_seen[s] = seen[s]
            conn.send((msg[0], req, *msg[1:]))
        return [self._await(s, req, msg, want, seen[s]) for s in range(len(self.conns))]

    def _await(self, s: int, req: int, msg: tuple[Any, ...], want: str, seen: int) -> tuple[Any, ...]:
        conn, deadline = self.conns[s], time.monotonic() + self.timeout_s
        while True:
            if conn.poll(0.05):
                reply = conn.recv()
                if reply[0] == want and reply[1] == req:
                    return reply
                continue  # an answer to a request resent earlier: already served
            now = int(self.incarnations[s])
            if now != seen:
                seen = now
                deadline = time.monotonic() + self.timeout_s
                self._push_seen[s] = now
                if msg[0] == "pull":
                    self._repush(s)
                conn.send((msg[0], req, *msg[1:]))
            elif time.monotonic() > deadline:
                raise TimeoutError(
                    f"worker {self.worker}: shard {s} did not answer {msg[0]!r} within {self.timeout_s=}; "
                    "is the shard process alive (ParameterServer supervises and restarts it when "
                    "checkpoint_dir is set)?"
                )

    def _repush(self, s: int) -> None:
        # A restarted shard has lost what came after its checkpoint; give it this worker's last
        # gradient (still in the slot) again. Its ack carries a request id nobody waits for.
        if self._last_push is not None:
            self._req += 1
            self.conns[s].send(("push", self._req, *self._last_push))
