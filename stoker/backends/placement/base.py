"""The records a placement policy reads and returns."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class NodeRecord:
    """One live node of the Ray cluster as the pool sees it when adding a worker.

    Attributes:
        node_id: Ray's hex node id.
        cpus_free: CPUs Ray has not handed out on this node.
        cpus_total: CPUs the node offers to Ray.
        labels: The node's Ray labels (``ray.io/node-id`` and any the operator set).
        workers: This pool's data workers already on the node (placed or being placed).
        is_trainer: The trainer (the Ray driver running the Loader) runs on this node.
    """

    node_id: str
    cpus_free: float
    cpus_total: float
    labels: dict[str, str] = field(default_factory=dict)
    workers: int = 0
    is_trainer: bool = False


@dataclass(frozen=True)
class PlacementRequest:
    """What a new worker needs, and where things stand.

    Attributes:
        num_cpus: CPUs one worker reserves.
        trainer_cpus: CPUs kept free for the trainer on its own node; Ray does not see the
            trainer's own use, so without this reserve workers would crowd a busy trainer.
        nodes: The live nodes that match the pool's label selector.
    """

    num_cpus: float
    trainer_cpus: float
    nodes: tuple[NodeRecord, ...]

    def room(self, node: NodeRecord) -> float:
        """CPUs a new worker could use on ``node`` after the trainer's reserve."""
        return node.cpus_free - (self.trainer_cpus if node.is_trainer else 0.0)


@dataclass(frozen=True)
class Placement:
    """Where to start the worker.

    Attributes:
        node_id: Start it on this node (soft: Ray may still choose another if the node filled
            up meanwhile); None lets Ray choose.
        avoid: Node ids the worker must not go to (applied as a Ray label selector).
        spread: Ask Ray to spread workers over nodes (its ``SPREAD`` strategy).
        reason: One line for logs and ``describe()``.
    """

    node_id: str | None
    avoid: tuple[str, ...] = ()
    spread: bool = False
    reason: str = ""
