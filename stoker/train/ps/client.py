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
        return self.pull_slot, min(min(r[2]) for r in replies)

    def _request(self, msg: tuple[Any, ...], want: str) -> list[tuple[Any, ...]]:
        self._req += 1
        req = self._req
        seen = [int(i) for i in self.incarnations]
        for conn in self.conns:
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
                self._resend(conn, req, msg)
            elif time.monotonic() > deadline:
                raise TimeoutError(
                    f"worker {self.worker}: shard {s} did not answer {msg[0]!r} within {self.timeout_s=}; "
                    "is the shard process alive (ParameterServer supervises and restarts it when "
                    "checkpoint_dir is set)?"
                )

    def _resend(self, conn: Connection, req: int, msg: tuple[Any, ...]) -> None:
        # A restarted shard has lost what came after its checkpoint; before a pull, give it this
        # worker's last gradient again so a BSP round can complete.
        if msg[0] == "pull" and self._last_push is not None:
            self._req += 1
            conn.send(("push", self._req, *self._last_push))
        conn.send((msg[0], req, *msg[1:]))
