"""Data workers as Ray actors anywhere in a cluster (``Loader(..., backend="ray")``).

Same contract as the local pool, different machinery: a worker is a Ray actor holding an
:class:`~stoker.backends.ray_worker.DataWorker`; ``submit`` is an actor call, so an actor's
queue of calls is its prefetch; results come back through Ray's object store, numpy arrays
zero-copy; ``poll`` is ``ray.wait`` over the outstanding calls. An actor that dies (killed,
node lost, out of memory) surfaces as a Ray error on its calls and becomes a ``Lost`` event;
the Loader's ledger re-issues its splits and the Loader starts a replacement. Where a new actor
goes is a placement policy (:mod:`stoker.backends.placement`).

Ray's token authentication is left exactly as Ray configures it (on by default for clusters
that ``ray.init`` starts); this module opens no socket of its own.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import ray
from ray.exceptions import RayError, RayTaskError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from stoker.backends.base import Done, Event, Exited, Fatal, Lost, WorkerPool
from stoker.backends.placement import NodeRecord, Placement, PlacementRequest, get_policy
from stoker.backends.placement.labels import matches, with_avoided
from stoker.backends.ray_worker import DataWorker, NotLoaded, from_wire
from stoker.data.executor import SplitFailure, SplitResult
from stoker.data.splits import Split

log = logging.getLogger("stoker")

PENDING_LOG_S = 30.0  # how often to say that workers still wait for a node with free CPUs
RESOURCE_LAG_S = 1.0  # Ray's free-CPU view lags a new actor by about this long (resource sync)


def connect(address: str | None, init_options: dict[str, Any] | None = None) -> None:
    """Joins the Ray cluster at ``address`` unless this process is already connected.

    Args:
        address: ``"auto"`` joins the cluster running on this machine (``ray start``), an
            ``"IP:PORT"`` joins that cluster's head, None joins ``RAY_ADDRESS`` or starts a
            local Ray. Ray's token authentication applies in every case.
        init_options: Extra ``ray.init`` arguments (``num_cpus``, ``runtime_env`` ...).
    """
    if ray.is_initialized():
        return
    ray.init(address=address, **(init_options or {}))


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}"[:300]


class RayPool(WorkerPool):
    """Worker actors on a Ray cluster, results through the object store.

    Args:
        pipeline_bytes: The cloudpickled pipeline.
        seed: Per-sample RNG seed.
        on_error: ``"raise"`` or ``"skip"``.
        address: Ray cluster to join (see :func:`connect`); ignored when already connected.
        num_cpus: CPUs each worker actor reserves (and its torch threads).
        placement: Placement policy name (see :mod:`stoker.backends.placement`).
        trainer_cpus: CPUs kept free for the trainer on its own node.
        label_selector: Ray label selector workers must match, e.g. ``{"stoker-data": "yes"}``.
        runtime_env: Ray runtime environment for the actors (``working_dir``, ``py_modules``)
            when the pipeline's functions live in modules the worker nodes do not have.
        init_options: Extra ``ray.init`` arguments when this pool starts or joins Ray.
    """

    def __init__(
        self,
        pipeline_bytes: bytes,
        seed: int,
        on_error: str,
        address: str | None = None,
        num_cpus: float = 1,
        placement: str = "free_cpus",
        trainer_cpus: float = 1.0,
        label_selector: dict[str, str] | None = None,
        runtime_env: dict[str, Any] | None = None,
        init_options: dict[str, Any] | None = None,
    ) -> None:
        if not num_cpus > 0:
            raise ValueError(f"{num_cpus=} should be > 0 CPUs per Ray data worker")
        if trainer_cpus < 0:
            raise ValueError(f"{trainer_cpus=} should be >= 0")
        self._policy = get_policy(placement)
        connect(address, init_options)
        self._num_cpus = num_cpus
        self._trainer_cpus = trainer_cpus
        self._labels = label_selector
        self._runtime_env = runtime_env
        self._trainer_node = ray.get_runtime_context().get_node_id()
        self._pipeline = ray.put(pipeline_bytes)  # stored once, read by every actor
        self._seed = seed
        self._on_error = on_error
        self._actor_cls: Any = ray.remote(DataWorker)
        self._next_id = 0
        self._actors: dict[int, Any] = {}
        self._calls: dict[Any, tuple[int, Split]] = {}  # ObjectRef -> (worker, split)
        self._load: dict[int, int] = {}  # worker -> calls outstanding
        self._hellos: dict[Any, int] = {}  # ObjectRef of hello() -> worker
        self._where: dict[int, dict[str, Any]] = {}  # placed workers: node, pid, host
        self._intended: dict[int, Placement] = {}
        self._born: dict[int, float] = {}
        self._draining: set[int] = set()
        self._backlog: list[Event] = []  # events found outside poll(), handed out by the next poll()
        self._next_pending_log = time.monotonic() + PENDING_LOG_S

    # -- placement -----------------------------------------------------------------------------

    def _nodes(self) -> tuple[NodeRecord, ...]:
        free = _available_per_node()
        now = time.monotonic()
        count: dict[str, int] = {}
        starting: dict[str, int] = {}
        for wid in self._actors:
            node = self._where.get(wid, {}).get("node_id") or self._intended[wid].node_id
            if node:
                count[node] = count.get(node, 0) + 1
                if wid not in self._where and now - self._born[wid] < RESOURCE_LAG_S:
                    starting[node] = starting.get(node, 0) + 1
        out = []
        for n in ray.nodes():
            labels = n.get("Labels") or {}
            if not n.get("Alive") or not matches(labels, self._labels):
                continue
            nid = n["NodeID"]
            out.append(
                NodeRecord(
                    node_id=nid,
                    # Ray's free count lags actors requested within the last second: count them as taken.
                    cpus_free=float(free.get(nid, {}).get("CPU", 0.0)) - self._num_cpus * starting.get(nid, 0),
                    cpus_total=float(n.get("Resources", {}).get("CPU", 0.0)),
                    labels=dict(labels),
                    workers=count.get(nid, 0),
                    is_trainer=nid == self._trainer_node,
                )
            )
        return tuple(out)

    def _options(self, where: Placement) -> dict[str, Any]:
        opts: dict[str, Any] = {"num_cpus": self._num_cpus, "max_restarts": 0, "max_task_retries": 0}
        if self._runtime_env is not None:
            opts["runtime_env"] = self._runtime_env
        selector = with_avoided(self._labels, where.avoid)
        if selector:
            opts["label_selector"] = selector
        if where.node_id is not None:
            opts["scheduling_strategy"] = NodeAffinitySchedulingStrategy(where.node_id, soft=True)
        elif where.spread:
            opts["scheduling_strategy"] = "SPREAD"
        return opts

    # -- WorkerPool ------------------------------------------------------------------------------

    def add_worker(self) -> int:
        wid = self._next_id
        self._next_id += 1
        where = self._policy(PlacementRequest(self._num_cpus, self._trainer_cpus, self._nodes()))
        threads = max(1, int(self._num_cpus))
        actor = self._actor_cls.options(**self._options(where)).remote(
            self._pipeline, self._seed, self._on_error, threads, wid
        )
        self._actors[wid] = actor
        self._load[wid] = 0
        self._intended[wid] = where
        self._born[wid] = time.monotonic()
        self._hellos[actor.hello.remote()] = wid
        return wid

    def ready(self, worker: int) -> bool:
        """True once the actor runs on a node and loaded the pipeline: only then does it get splits.

        An actor waiting for a node with free CPUs would otherwise hold splits that the trainer
        waits for, possibly forever on a full cluster.
        """
        return worker in self._where

    def submit(self, worker: int, split: Split) -> None:
        actor = self._actors.get(worker)
        if actor is None:
            return  # lost since the Loader chose it; the Lost event re-issues the split
        self._calls[actor.run.remote(split)] = (worker, split)
        self._load[worker] += 1

    def drain(self, worker: int) -> None:
        if worker in self._actors:
            self._draining.add(worker)

    def workers(self) -> list[int]:
        return list(self._actors)

    def _remove(self, wid: int) -> None:
        actor = self._actors.pop(wid, None)
        if actor is not None:
            try:
                ray.kill(actor, no_restart=True)
            except Exception as exc:  # already dead, or its node is gone
                log.debug("stoker: ray.kill of data worker %s: %s", wid, exc)
        for ref in [r for r, (w, _) in self._calls.items() if w == wid]:
            del self._calls[ref]
        for ref in [r for r, w in self._hellos.items() if w == wid]:
            del self._hellos[ref]
        for table in (self._load, self._where, self._intended, self._born):
            table.pop(wid, None)  # type: ignore[attr-defined]
        self._draining.discard(wid)

    def _greet(self, ref: Any, events: list[Event], lost: dict[int, str]) -> None:
        wid = self._hellos.pop(ref)
        try:
            info = ray.get(ref)
        except RayError as err:
            lost.setdefault(wid, _first_line(err))
            return
        if info["error"]:
            events.append(Fatal(wid, info["error"]))
            self._remove(wid)
        else:
            self._where[wid] = info

    def _collect(self, ref: Any, events: list[Event], lost: dict[int, str]) -> None:
        wid, split = self._calls.pop(ref)
        self._load[wid] -= 1
        try:
            out = ray.get(ref)
        except RayTaskError as err:
            # run() itself failed (not the user's code, which the executor catches), e.g. a
            # result Ray cannot serialize: report it against the split, with Ray's traceback.
            msg = f"the Ray data worker {wid} failed on split {split.key}: {_first_line(err)}"
            events.append(Done(wid, split.key, SplitFailure(split.key, msg, split.indices, None, "ray", str(err))))
            return
        except RayError as err:  # actor died, node lost, object lost with its node
            lost.setdefault(wid, _first_line(err))
            return
        if isinstance(out, NotLoaded):
            events.append(Fatal(wid, out.message))
            self._remove(wid)
            return
        if isinstance(out, SplitResult):
            out.items = from_wire(out.items)
        events.append(Done(wid, split.key, out))

    def wait_ready(self, count: int, timeout: float) -> int:
        """Blocks until ``count`` workers run on nodes, or ``timeout`` seconds pass.

        For warming up before training starts (actors take seconds to start and import torch);
        results that arrive meanwhile stay queued for :meth:`poll`.

        Returns:
            The number of workers running.
        """
        end = time.monotonic() + timeout
        while len(self._where) < count and self._hellos and (left := end - time.monotonic()) > 0:
            ready, _ = ray.wait(list(self._hellos), num_returns=1, timeout=left)
            lost: dict[int, str] = {}
            for ref in ready:
                self._greet(ref, self._backlog, lost)
            self._report_lost(lost, self._backlog)
        return len(self._where)

    def _report_lost(self, lost: dict[int, str], events: list[Event]) -> None:
        for wid, reason in lost.items():
            if wid in self._actors:
                self._remove(wid)
                events.append(Lost(wid, f"(Ray actor) was lost: {reason}"))

    def poll(self, timeout: float) -> list[Event]:
        events, self._backlog = self._backlog, []
        self._exit_drained(events)
        refs = [*self._hellos, *self._calls]
        if not refs:
            if not events:
                time.sleep(timeout)  # nothing can arrive; do not spin the trainer's loop
            return events
        ready, _ = ray.wait(refs, num_returns=1, timeout=timeout)
        if ready:
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
        lost: dict[int, str] = {}
        for ref in ready:  # hellos first: a worker is placed before its results count
            if ref in self._hellos:
                self._greet(ref, events, lost)
        for ref in ready:
            if ref in self._calls and self._calls[ref][0] not in lost:
                self._collect(ref, events, lost)
        self._report_lost(lost, events)
        self._exit_drained(events)
        self._log_pending()
        return events

    def _exit_drained(self, events: list[Event]) -> None:
        for wid in [w for w in self._draining if self._load.get(w, 0) == 0]:
            self._remove(wid)
            events.append(Exited(wid))

    def _waiting(self, older_than: float) -> str | None:
        """A sentence about workers not placed after ``older_than`` seconds (None when there are none)."""
        now = time.monotonic()
        waiting = [w for w in self._actors if w not in self._where and now - self._born[w] > older_than]
        if not waiting:
            return None
        nodes = self._nodes()
        free = sum(max(0.0, n.cpus_free) for n in nodes)
        return (
            f"{len(waiting)} Ray data workers wait for a node with {self._num_cpus:g} free CPUs "
            f"({len(nodes)} eligible nodes have {free:g} free in all). Free CPUs, add nodes, or lower num_cpus."
        )

    def _log_pending(self) -> None:
        now = time.monotonic()
        if now < self._next_pending_log:
            return
        line = self._waiting(PENDING_LOG_S)
        if line:
            self._next_pending_log = now + PENDING_LOG_S
            log.warning("stoker: %s The trainer waits until the cluster has room.", line)

    def stall_reason(self) -> str | None:
        return self._waiting(0.0)

    def cpu_free(self) -> float:
        """CPUs Ray has free on eligible nodes, less the trainer's reserve on its node."""
        req = PlacementRequest(self._num_cpus, self._trainer_cpus, self._nodes())
        return sum(max(0.0, req.room(n)) for n in req.nodes)

    def capacity(self) -> int:
        """Workers the eligible nodes could hold in all (the autoscaler's default ceiling)."""
        cpus = sum(n.cpus_total for n in self._nodes())
        return max(1, int(cpus // self._num_cpus))

    def describe(self) -> dict[str, Any]:
        return {
            "backend": "ray",
            "trainer_node": self._trainer_node,
            "nodes": {w: info["node_id"] for w, info in self._where.items()},
            "pids": {w: info["pid"] for w, info in self._where.items()},
            "pending": [w for w in self._actors if w not in self._where],
            "placement": {w: p.reason for w, p in self._intended.items()},
        }

    def actor(self, worker: int) -> Any:
        """The Ray actor handle of a worker (for tests that kill workers)."""
        return self._actors[worker]

    def close(self) -> None:
        for wid in list(self._actors):
            self._remove(wid)
        self._calls.clear()
        self._hellos.clear()


def _available_per_node() -> dict[str, dict[str, float]]:
    """Ray's free resources per live node (a DeveloperAPI; Ray has no public per-node call)."""
    from ray._private.state import available_resources_per_node

    return available_resources_per_node()
