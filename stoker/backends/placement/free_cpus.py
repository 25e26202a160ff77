"""Most free CPUs first, off the trainer's node while the trainer needs it (the default).

Called by the Ray pool each time it adds a worker. The node with the most CPUs free (after the
trainer's reserve on its own node) gets the worker; ties go to the node with fewer of this
pool's workers, which spreads a pool over equal nodes. When no node has room now, the worker is
left to wait in Ray's queue, but never on a trainer node that is already busy: a data worker
there would slow the very step it is meant to feed.
"""

from __future__ import annotations

from stoker.backends.placement.base import Placement, PlacementRequest


def free_cpus_policy(req: PlacementRequest) -> Placement:
    """Picks a node for one new worker; pure, see the module docstring."""
    fits = [n for n in req.nodes if req.room(n) >= req.num_cpus]
    if fits:
        best = max(fits, key=lambda n: (req.room(n), -n.workers, not n.is_trainer, n.node_id))
        return Placement(best.node_id, reason=f"{req.room(best):g} CPUs free on {best.node_id[:8]}")
    busy = tuple(n.node_id for n in req.nodes if n.is_trainer)
    if busy and len(busy) < len(req.nodes):
        return Placement(None, avoid=busy, reason="no node has room now; waiting for one, off the trainer's node")
    return Placement(None, reason="no node has room now; waiting in Ray's queue")
