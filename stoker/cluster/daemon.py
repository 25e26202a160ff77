"""The controller service as a detached, named Ray actor (``stoker cluster start|status|stop``).

The actor outlives the process that started it (``lifetime="detached"``) and is found by name, so jobs
(:mod:`stoker.cluster.membership`) and the CLI reach it from any driver on the cluster. It needs no CPU of
its own (``num_cpus=0``): the CPUs are what it hands out. It saves its state every round, so a controller
that dies (even ``SIGKILL``) is restarted with ``stoker cluster start --state`` and resumes.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from stoker.cluster.admission import digest
from stoker.cluster.learning import JobReport
from stoker.cluster.policies import CpuParams
from stoker.cluster.records import Node
from stoker.cluster.service import Budget, ClusterStatus, ControllerService, Joined

ACTOR_NAME = "stoker-cluster-controller"
NAMESPACE = "stoker"
SECRET_ENV = "STOKER_CLUSTER_SECRET"  # the operator's secret: `stoker cluster start`, jobs and `evict` read it


def secret_from_env() -> str | None:
    """``$STOKER_CLUSTER_SECRET``, or None when unset or empty (kept out of argv, where `ps` shows it)."""
    return os.environ.get(SECRET_ENV) or None


def ray_nodes() -> list[Node]:
    """The live nodes of the Ray cluster this process is connected to, as policy records.

    A node's name is its Ray node id (several nodes of a ``ray.cluster_utils.Cluster`` share one IP).
    """
    import ray

    out = []
    for n in ray.nodes():
        if not n.get("Alive"):
            continue
        res = n.get("Resources", {})
        mem = int(res.get("memory", 0.0) / 2**20)
        out.append(Node(n["NodeID"], float(res.get("CPU", 0.0)), mem, int(res.get("GPU", 0.0))))
    return out


class ControllerActor:
    """Body of the detached actor: a :class:`ControllerService` and the thread that runs its rounds."""

    def __init__(
        self, policy: str, period_s: float, state_path: str | None, remote_cost: float, secret_sha256: str | None
    ) -> None:
        params = CpuParams(remote_cost=remote_cost)
        self.service = ControllerService(ray_nodes, policy, period_s, state_path, params, secret_sha256=secret_sha256)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.service.run, args=(self._stop,), daemon=True)
        self._thread.start()

    def join(self, r: JobReport, secret: str | None = None) -> Joined:
        return self.service.join(r, secret)

    def report(self, r: JobReport, token: str) -> Budget:
        return self.service.report(r, token)

    def leave(self, name: str, token: str) -> None:
        self.service.leave(name, token)

    def evict(self, name: str, secret: str) -> bool:
        return self.service.evict(name, secret)

    def status(self) -> ClusterStatus:
        return self.service.status()

    def history(self) -> list[dict[str, int]]:
        return list(self.service.history)

    def pid(self) -> int:
        return os.getpid()

    def stop(self) -> None:
        """Saves the state and stops the rounds (the caller then kills the actor)."""
        self._stop.set()
        self._thread.join(timeout=10)
        self.service.save()


def find() -> Any | None:
    """The running controller's actor handle, or None (needs ``ray.init`` done)."""
    import ray

    try:
        return ray.get_actor(ACTOR_NAME, namespace=NAMESPACE)
    except ValueError:  # Ray's answer for "no actor of that name"
        return None


def start(
    policy: str = "elastic",
    period_s: float = 2.0,
    state_path: str | Path | None = None,
    remote_cost: float = CpuParams().remote_cost,
    timeout_s: float = 60.0,
    secret: str | None = None,
) -> Any:
    """Starts the controller actor (needs ``ray.init`` done) and waits until it answers.

    Args:
        secret: The operator's secret (joining needs it, evicting needs it); only its digest reaches the
            actor. None: open joining, no eviction.

    Raises:
        RuntimeError: A controller already runs on this cluster (also when another start won the race).
    """
    import ray
    from ray.exceptions import ActorAlreadyExistsError, RayActorError

    taken = f"a stoker controller ({ACTOR_NAME!r}) already runs; `stoker cluster stop` it first"
    if find() is not None:
        raise RuntimeError(taken)
    state = str(Path(state_path).resolve()) if state_path else None
    actor_cls: Any = ray.remote(ControllerActor)
    try:
        actor = actor_cls.options(
            name=ACTOR_NAME,
            namespace=NAMESPACE,
            lifetime="detached",
            num_cpus=0,
            max_concurrency=16,
            max_restarts=0,
        ).remote(policy, period_s, state, remote_cost, digest(secret) if secret else None)
    except ActorAlreadyExistsError:
        # Two starts at once: both saw no controller, and the other one created its actor first.
        raise RuntimeError(taken) from None
    try:
        ray.get(actor.pid.remote(), timeout=timeout_s)
    except RayActorError:
        # Ray checks the name again when it creates the actor (asynchronously): the loser of a closer
        # race learns it here, with the winner's actor holding the name.
        if find() is not None:
            raise RuntimeError(taken) from None
        raise
    return actor


def stop(timeout_s: float = 30.0) -> bool:
    """Stops the running controller after it saved its state; False if none ran."""
    import ray

    actor = find()
    if actor is None:
        return False
    try:
        ray.get(actor.stop.remote(), timeout=timeout_s)
    finally:
        ray.kill(actor)
    # Ray frees the name once the actor is dead, a moment after kill(): a start right after must not
    # find the old one.
    end = time.monotonic() + timeout_s
    while find() is not None and time.monotonic() < end:
        time.sleep(0.1)
    return True
