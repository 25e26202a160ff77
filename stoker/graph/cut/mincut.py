"""The cut that crosses the fewest bytes, exactly, by max-flow/min-cut (for graphs too wide to enumerate).

Source side = data side. Every value ``v`` gets an edge ``v -> v'`` of capacity bytes(v) and
edges ``v' -> user`` of infinite capacity, so ``v``'s bytes are paid once, and only when some user
stays on the training side. Infinite edges ``u -> p`` for each input ``p`` of a movable ``u`` keep
the data side down-closed; the fixed sides hang off the source and the sink. Among minimum cuts
we return the largest data side (on a tie, move more), the nodes that cannot reach the sink in
the residual graph.
"""

from __future__ import annotations

from collections import defaultdict, deque

from stoker.graph.cut.candidates import Sides
from stoker.graph.ir import Graph
from stoker.graph.measure import Costs

_INF = float("inf")
_SRC, _SNK = "<source>", "<sink>"


class _Flow:
    def __init__(self) -> None:
        self.cap: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))

    def edge(self, a: str, b: str, c: float) -> None:
        self.cap[a][b] += c
        self.cap[b][a] += 0.0  # make the reverse edge exist

    def _path(self) -> dict[str, str] | None:
        parent = {_SRC: _SRC}
        queue = deque([_SRC])
        while queue:
            a = queue.popleft()
            for b, c in self.cap[a].items():
                if c > 1e-9 and b not in parent:
                    parent[b] = a
                    if b == _SNK:
                        return parent
                    queue.append(b)
        return None

    def run(self) -> None:
        while (parent := self._path()) is not None:
            path, b = [], _SNK
            while b != _SRC:
                path.append((parent[b], b))
                b = parent[b]
            push = min(self.cap[a][b] for a, b in path)
            if push == _INF:
                raise ValueError("the fixed sides are joined by an infinite path; no valid cut exists")
            for a, b in path:
                self.cap[a][b] -= push
                self.cap[b][a] += push

    def reaches_sink(self) -> set[str]:
        seen = {_SNK}
        queue = deque([_SNK])
        while queue:
            b = queue.popleft()
            for a in list(self.cap):
                if a not in seen and self.cap[a].get(b, 0.0) > 1e-9:
                    seen.add(a)
                    queue.append(a)
        return seen


def min_bytes_cut(graph: Graph, sides: Sides, costs: Costs) -> frozenset[str]:
    """The movable nodes to move so the fewest bytes per sample cross (largest such set on a tie)."""
    movable = set(sides.movable)
    flow = _Flow()
    for name in graph.nodes:
        if name in sides.constants:
            continue
        if name in sides.base or name in sides.forced:
            flow.edge(_SRC, name, _INF)
        elif name not in movable:
            flow.edge(name, _SNK, _INF)
        users = [u for u in graph.users(name) if u not in sides.constants]
        if users:
            flow.edge(name, name + "'", costs.bytes.get(name, 0.0))
            for u in users:
                flow.edge(name + "'", u, _INF)
        if name in movable:
            for p in graph[name].inputs:
                if p not in sides.constants:
                    flow.edge(name, p, _INF)
    flow.run()
    return frozenset(movable - flow.reaches_sink())
