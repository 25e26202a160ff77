"""The graph IR: one :class:`Node` per pipeline operator, transform or traced model operation.

The IR is deliberately plain (names, kinds, edges): analysis, cost and cut code read it without
knowing about ``torch.fx``; the fx graph it mirrors is kept beside it for building the halves.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

# Where a node runs when it is on the data side: per sample before batch(), per batch after it,
# or as part of the model's forward (batch-level too, but movable).
STAGES = ("sample", "batch", "model")


@dataclass
class Node:
    """One operation of the training program.

    Attributes:
        name: Unique id (an fx node name for model nodes, ``"p3:decode"`` style for pipeline ops).
        kind: ``source``, ``dataset``, ``map``, ``transform``, ``filter``, ``shuffle``, ``batch``,
            ``input`` (an element of the batch the model receives), ``get_attr``, ``call_module``,
            ``call_function``, ``call_method``, ``output`` or ``optimizer``.
        label: Short human-readable description.
        inputs: Names of the nodes whose values this node reads.
        stage: ``"sample"``, ``"batch"`` or ``"model"`` (see :data:`STAGES`).
        target: The callable, module path or pipeline function behind the node.
        where: ``file:line  code`` of the user's source, when known.
    """

    name: str
    kind: str
    label: str
    inputs: tuple[str, ...] = ()
    stage: str = "model"
    target: Any = None
    where: str = ""

    @property
    def is_model(self) -> bool:
        return self.stage == "model"


@dataclass
class Graph:
    """Nodes in a topological order (every node after its inputs), with edge queries."""

    nodes: dict[str, Node] = field(default_factory=dict)

    def add(self, node: Node) -> Node:
        if node.name in self.nodes:
            raise ValueError(f"duplicate node name {node.name!r}")
        missing = [i for i in node.inputs if i not in self.nodes]
        if missing:
            raise ValueError(f"node {node.name!r} reads {missing}, which are not in the graph yet")
        self.nodes[node.name] = node
        return node

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes.values())

    def __len__(self) -> int:
        return len(self.nodes)

    def __getitem__(self, name: str) -> Node:
        return self.nodes[name]

    def __contains__(self, name: object) -> bool:
        return name in self.nodes

    def users(self, name: str) -> list[str]:
        """Names of the nodes that read ``name``'s value."""
        return [n.name for n in self if name in n.inputs]

    def ancestors(self, names: Iterable[str]) -> set[str]:
        """Every node that ``names`` depend on, transitively (not including ``names``)."""
        out: set[str] = set()
        stack = [i for n in names for i in self.nodes[n].inputs]
        while stack:
            cur = stack.pop()
            if cur not in out:
                out.add(cur)
                stack.extend(self.nodes[cur].inputs)
        return out

    def descendants(self, names: Iterable[str]) -> set[str]:
        """Every node that depends on ``names``, transitively (not including ``names``)."""
        users: dict[str, list[str]] = {n: [] for n in self.nodes}
        for node in self:
            for i in node.inputs:
                users[i].append(node.name)
        out: set[str] = set()
        stack = [u for n in names for u in users[n]]
        while stack:
            cur = stack.pop()
            if cur not in out:
                out.add(cur)
                stack.extend(users[cur])
        return out
