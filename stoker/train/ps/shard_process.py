"""The local backend's shard process: one :class:`ShardCore` served over pipes and shared memory.

:class:`~stoker.train.ps.backends.local.LocalShards` starts one such process per shard.

Each worker has one gradient slot and one parameter slot, flat shared-memory tensors the size
of the model. A push writes the worker's gradients into its slot once and sends each shard a
few-byte message; shard ``i`` reads only its range ``[lo, hi)``. A pull asks each shard to write
its range into the worker's parameter slot. So no tensor is pickled on the data path.

The parent keeps both ends of every pipe, so a shard killed and restarted from its checkpoint
gets the same pipes and slots; messages it had not read are still there for the new process, whole
(the shard reads each in one system call, :class:`WholeReader`).
"""

from __future__ import annotations

import os
import pickle
import socket
import struct
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

import torch

from stoker.train.ps.backends.base import save_atomic
from stoker.train.ps.consistency import Consistency
from stoker.train.ps.optim import OptimSpec
from stoker.train.ps.shard import ShardCore


@dataclass
class ShardArgs:
    """Everything a shard process needs (picklable; tensors are shared memory)."""

    shard: int
    lo: int
    hi: int
    init: torch.Tensor
    optim: OptimSpec
    consistency: Consistency
    num_workers: int
    conns: list[Connection]
    control: Connection
    grad_slots: torch.Tensor
    pull_slots: torch.Tensor
    checkpoint_path: str | None
    checkpoint_every: int
    restore: bool


class WholeReader:
    """Reads one message from a worker's pipe end in a single consuming system call.

    ``Connection.recv`` reads a message's 4-byte length and then its body: two reads. A shard killed
    between them leaves the body in the pipe, which the restarted shard (it gets the same pipes)
    would read as the next length, and then wait forever for bytes that never come. Here the length
    is only peeked, and the whole message (written by the worker in one ``write``) is taken in one
    ``recv``: a kill loses at most whole messages, which the clients resend on the restart.

    Args:
        conn: A pipe end of ``multiprocessing.Pipe(duplex=True)`` (a Unix socket); any other kind
            is read with ``conn.recv()``.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        try:
            self.sock: socket.socket | None = socket.socket(fileno=os.dup(conn.fileno()))
        except OSError:  # not a socket (a one-way os.pipe): no peeking there
            self.sock = None

    def recv(self) -> Any:
        if self.sock is None:
            return self.conn.recv()
        head = self.sock.recv(4, socket.MSG_PEEK)
        if not head:
            raise EOFError
        if len(head) < 4:  # a worker writes the length and a small body at once; never seen, but stay correct
            return self.conn.recv()
        (size,) = struct.unpack("!i", head)
        if size < 0:  # multiprocessing's framing of messages over 2 GiB: no such message here
            return self.conn.recv()
        data = self.sock.recv(4 + size, socket.MSG_WAITALL)
        if len(data) < 4 + size:
            raise EOFError
        return pickle.loads(memoryview(data)[4:])


def shard_main(a: ShardArgs) -> None:
    """The shard process: serves pushes, pulls and control requests until told to stop."""
    torch.set_num_threads(1)  # shards share the CPUs with the workers; one thread each is enough
    core = ShardCore(a.shard, a.init, a.optim, a.consistency, a.num_workers)
    if a.restore and a.checkpoint_path and os.path.exists(a.checkpoint_path):
        core.load_state_dict(torch.load(a.checkpoint_path, weights_only=False))
    waiting: dict[int, tuple[int, int]] = {}  # worker -> (request id, clock) of a pull not yet readable
    owner = {id(c): w for w, c in enumerate(a.conns)}
    readers = {id(c): WholeReader(c) for c in a.conns}
    while True:
        for conn in wait([*a.conns, a.control]):
            try:
                msg = conn.recv() if conn is a.control else readers[id(conn)].recv()  # type: ignore[union-attr,call-arg]
            except EOFError:
                return  # the parent is gone
            if conn is a.control:
                if not _control(core, a, tuple(msg)):
                    return
                continue
            w = owner[id(conn)]
            if msg[0] == "push":
                _, req, clock, lr = msg
                core.push(w, clock, a.grad_slots[w, a.lo : a.hi], lr)
                if a.checkpoint_path and core.checkpoint_due(a.checkpoint_every):
                    save_atomic(core.state_dict(), a.checkpoint_path)
                a.conns[w].send(("ack", req))
            elif msg[0] == "pull":
                waiting[w] = (msg[1], msg[2])
            for rw, (req, clock) in list(waiting.items()):
                if core.readable(clock):
                    a.pull_slots[rw, a.lo : a.hi].copy_(core.params)
                    a.conns[rw].send(("params", req, tuple(core.clocks), core.sqnorms))
                    del waiting[rw]


def _control(core: ShardCore, a: ShardArgs, msg: tuple[Any, ...]) -> bool:
    """Handles a control request from the parent; returns False on stop."""
    kind = msg[0]
    if kind == "state":
        a.control.send(("state", core.state_dict()))
    elif kind == "load":
        core.load_state_dict(msg[1])
        a.control.send(("ok",))
    elif kind == "checkpoint":
        save_atomic(core.state_dict(), msg[1])
        a.control.send(("ok",))
    elif kind == "stop":
        a.control.send(("ok",))
        return False
    else:
        a.control.send(("error", f"unknown control request {kind!r}"))
    return True
