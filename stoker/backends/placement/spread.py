"""Ray's own ``SPREAD`` strategy: workers go round the nodes whatever their load.

For clusters where every node is a data node and the trainer runs elsewhere, or when the free
CPU counts Ray reports lag behind reality. Called by the Ray pool each time it adds a worker.
"""

from __future__ import annotations

from stoker.backends.placement.base import Placement, PlacementRequest


def spread_policy(req: PlacementRequest) -> Placement:
    """Defers to Ray's SPREAD scheduling; pure."""
    return Placement(None, spread=True, reason=f"SPREAD over {len(req.nodes)} nodes")
