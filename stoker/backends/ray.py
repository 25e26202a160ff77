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
from dataclasses import dataclass
from typing import Any

import ray
from ray.exceptions import RayError, RayTaskError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from stoker.backends.base import Done, Event, Exited, Fatal, Lost, WorkerPool
from stoker.backends.placement import NodeRecord, Placement, PlacementRequest, get_policy
from stoker.backends.placement.labels import matches, with_avoided
from stoker.backends.ray_worker import DataWorker, NotLoaded, from_wire
from stoker.data.executor import SplitFailure, SplitResult
from stoker.data.intake import serialize_pipeline
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


@dataclass
class _WorkerState:
    """One worker actor: what the pool knows of it (one record, not a dict per field).

    Attributes:
        actor: The Ray actor handle.
        intended: Where the placement policy asked Ray to put it.
        born: ``time.monotonic()`` when it was requested.
        hello: The pending ``hello()`` call, None once answered.
        where: ``node_id``, ``pid``, ``host`` once placed (None while Ray looks for a node).
        load: Calls submitted and not yet collected.
        draining: Exits once ``load`` reaches 0.
    """

    actor: Any
    intended: Placement
    born: float
    hello: Any = None
    where: dict[str, Any] | None = None
    load: int = 0
    draining: bool = False


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}"[:300]


class RayPool(WorkerPool):
    """Worker actors on a Ray cluster, results through the object store.

    Args:
        pipeline: The pipeline, or its cloudpickled bytes.
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
        prefetch: Splits in flight per worker (accepted for the pool interface; an actor's
            queue of calls is its prefetch).
    """

    def __init__(
        self,
        pipeline: Any,
        seed: int,
        on_error: str,
        address: str | None = None,
        num_cpus: float = 1,
        placement: str = "free_cpus",
        trainer_cpus: float = 1.0,
        label_selector: dict[str, str] | None = None,
        runtime_env: dict[str, Any] | None = None,
        init_options: dict[str, Any] | None = None,
        prefetch: int = 2,
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
        # Stored once, read by every actor.
        self._pipeline = ray.put(pipeline if isinstance(pipeline, bytes) else serialize_pipeline(pipeline))
        self._seed = seed
        self._on_error = on_error
        self._actor_cls: Any = ray.remote(DataWorker)
        self._next_id = 0
        self._workers: dict[int, _WorkerState] = {}
        self._calls: dict[Any, tuple[int, Split]] = {}  # ObjectRef of run() -> (worker, split)
        self._hellos: dict[Any, int] = {}  # ObjectRef of hello() -> worker (an index into _workers)
        self._backlog: list[Event] = []  # events found outside poll(), handed out by the next poll()
        self._next_pending_log = time.monotonic() + PENDING_LOG_S

    # -- placement -----------------------------------------------------------------------------

    def _nodes(self) -> tuple[NodeRecord, ...]:
        free = _available_per_node()
        now = time.monotonic()
        count: dict[str, int] = {}
        starting: dict[str, int] = {}
        for rec in self._workers.values():
            node = (rec.where or {}).get("node_id") or rec.intended.node_id
            if node:
                count[node] = count.get(node, 0) + 1
                if rec.where is None and now - rec.born < RESOURCE_LAG_S:
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
        rec = self._workers[wid] = _WorkerState(actor, where, time.monotonic())
        rec.hello = actor.hello.remote()
        self._hellos[rec.hello] = wid
        return wid

    def ready(self, worker: int) -> bool:
        """True once the actor runs on a node and loaded the pipeline: only then does it get splits.

        An actor waiting for a node with free CPUs would otherwise hold splits that the trainer
        waits for, possibly forever on a full cluster.
        """
        rec = self._workers.get(worker)
        return rec is not None and rec.where is not None

    def submit(self, worker: int, split: Split) -> None:
        rec = self._workers.get(worker)
        if rec is None:
            return  # lost since the Loader chose it; the Lost event re-issues the split
        self._calls[rec.actor.run.remote(split)] = (worker, split)
        rec.load += 1

    def drain(self, worker: int) -> None:
        rec = self._workers.get(worker)
        if rec is not None:
            rec.draining = True

    def replace(self, worker: int, reason: str) -> None:
        """Kills a stuck actor now; the next :meth:`poll` reports it lost with ``reason``."""
        if worker in self._workers:
            self._remove(worker)
            self._backlog.append(Lost(worker, reason))

    def workers(self) -> list[int]:
        return list(self._workers)

    def _remove(self, wid: int) -> None:
        rec = self._workers.pop(wid, None)
        if rec is not None:
            try:
                ray.kill(rec.actor, no_restart=True)
            except Exception as exc:  # already dead, or its node is gone
                log.debug("stoker: ray.kill of data worker %s: %s", wid, exc)
            self._hellos.pop(rec.hello, None)
        for ref in [r for r, (w, _) in self._calls.items() if w == wid]:
            del self._calls[ref]

    def _greet(self, ref: Any, events: list[Event], lost: dict[int, str]) -> None:
        wid = self._hellos.pop(ref)
        rec = self._workers[wid]
        rec.hello = None
        try:
            info = ray.get(ref)
        except RayError as err:
            lost.setdefault(wid, _first_line(err))
            return
        if info["error"]:
            events.append(Fatal(wid, info["error"]))
            self._remove(wid)
        else:
            rec.where = info

    def _collect(self, ref: Any, events: list[Event], lost: dict[int, str]) -> None:
        wid, split = self._calls.pop(ref)
        self._workers[wid].load -= 1
        try:
            out = ray.get(ref)
        except RayTaskError as err:
            # run() itself failed (not the user's code, which the executor catches), e.g. a
            # result Ray cannot serialize: report it against the split, with Ray's traceback.
            cause = err.cause if isinstance(getattr(err, "cause", None), BaseException) else err
            msg = f"the Ray data worker {wid} failed on split {split.key}: {_first_line(err)}"
            failure = SplitFailure(
                split.key,
                msg,
                split.indices,
                None,
                "ray",
                str(err),
                type(cause).__name__,
                type(cause).__module__,
                str(cause),
            )
            events.append(Done(wid, split.key, failure))
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
        while self._placed() < count and self._hellos and (left := end - time.monotonic()) > 0:
            ready, _ = ray.wait(list(self._hellos), num_returns=1, timeout=left)
            lost: dict[int, str] = {}
            for ref in ready:
                self._greet(ref, self._backlog, lost)
            self._report_lost(lost, self._backlog)
        return self._placed()

    def _placed(self) -> int:
        return sum(rec.where is not None for rec in self._workers.values())

    def _report_lost(self, lost: dict[int, str], events: list[Event]) -> None:
        for wid, reason in lost.items():
            if wid in self._workers:
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
        for wid in [w for w, rec in self._workers.items() if rec.draining and rec.load == 0]:
            self._remove(wid)
            events.append(Exited(wid))

    def _waiting(self, older_than: float) -> str | None:
        """A sentence about workers not placed after ``older_than`` seconds (None when there are none)."""
        now = time.monotonic()
        waiting = [w for w, rec in self._workers.items() if rec.where is None and now - rec.born > older_than]
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
            "nodes": {w: rec.where["node_id"] for w, rec in self._workers.items() if rec.where},
            "pids": {w: rec.where["pid"] for w, rec in self._workers.items() if rec.where},
            "pending": [w for w, rec in self._workers.items() if rec.where is None],
            "placement": {w: rec.intended.reason for w, rec in self._workers.items()},
        }

    def actor(self, worker: int) -> Any:
        """The Ray actor handle of a worker (for tests that kill workers)."""
        return self._workers[worker].actor

    def close(self) -> None:
        for wid in list(self._workers):
            self._remove(wid)
        self._calls.clear()
        self._hellos.clear()


def _available_per_node() -> dict[str, dict[str, float]]:
    """Ray's free resources per live node (a DeveloperAPI; Ray has no public per-node call)."""
    from ray._private.state import available_resources_per_node

    return available_resources_per_node()
