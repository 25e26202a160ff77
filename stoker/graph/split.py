"""Builds the two executable halves of a cut: the Send (data side) and the training module.

The data half is an fx ``GraphModule`` of the moved nodes, deep-copied onto the CPU so it can be
cloudpickled to worker processes without dragging the model along; it runs as a ``map`` after
``batch()``, so it sees exactly the batch the model would. The training half is a
``GraphModule`` over the *same* root as the unsplit step, so it shares the user's parameters and
buffers: an optimiser built on ``model.parameters()`` trains it, and BatchNorm statistics it
updates are the model's.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.fx as fx
from torch import nn


def elements(batch: Any, single: bool) -> tuple[Any, ...]:
    """The batch as the step's positional inputs (a lone tensor is one input)."""
    return (batch,) if single else tuple(batch)


def _materialise(node: fx.Node, graph: fx.Graph, env: dict[fx.Node, fx.Node]) -> None:
    """Copies the constants (get_attr) a node reads into ``graph`` on first use."""
    for arg in node.all_input_nodes:
        if arg.op == "get_attr" and arg not in env:
            env[arg] = graph.node_copy(arg)


def data_graph(gm: fx.GraphModule, on_data: set[str], crossing: Sequence[str]) -> fx.GraphModule:
    """The moved nodes as a CPU ``GraphModule``: ``(*batch) -> tuple(crossing values)``."""
    graph = fx.Graph()
    env: dict[fx.Node, fx.Node] = {}
    by_name = {n.name: n for n in gm.graph.nodes}
    for node in gm.graph.nodes:
        if node.op == "placeholder" or node.name in on_data:
            _materialise(node, graph, env)
            env[node] = graph.node_copy(node, lambda n: env[n])
    graph.output(tuple(env[by_name[c]] for c in crossing))
    half = fx.GraphModule(gm, graph, class_name="DataHalf")
    # A copy on the CPU: workers must not receive (or share) the model's device tensors.
    return copy.deepcopy(half).to("cpu")


def train_graph(gm: fx.GraphModule, on_data: set[str], crossing: Sequence[str]) -> fx.GraphModule:
    """The rest of the step: ``(*received) -> loss or output``, sharing the step's modules."""
    graph = fx.Graph()
    env: dict[fx.Node, fx.Node] = {}
    by_name = {n.name: n for n in gm.graph.nodes}
    for name in crossing:
        env[by_name[name]] = graph.placeholder(f"recv_{name}")
    for node in gm.graph.nodes:
        if node.op in ("placeholder", "get_attr") or node.name in on_data:
            continue
        _materialise(node, graph, env)
        env[node] = graph.node_copy(node, lambda n: env[n])
    return fx.GraphModule(gm, graph, class_name="TrainHalf")


class Send:
    """The data side's last ``map``: runs the moved nodes on a batch, returns what crosses.

    Args:
        half: The data half (None when nothing moves: the batch's elements cross as they are).
        single: The pipeline yields one tensor rather than a tuple.
    """

    def __init__(self, half: fx.GraphModule | None, single: bool) -> None:
        self.half = half
        self.single = single

    def __call__(self, batch: Any) -> tuple[Any, ...]:
        args = elements(batch, self.single)
        if self.half is None:
            return args
        with torch.no_grad():
            return tuple(self.half(*args))


class TrainTail(nn.Module):
    """The training half when pipeline steps after ``batch()`` hold state: they run here, then the step.

    Args:
        fns: The stateful batch-level functions, in pipeline order.
        step: The whole traced step.
        single: The batch is one tensor rather than a tuple.
    """

    def __init__(self, fns: Sequence[Callable[[Any], Any]], step: nn.Module, single: bool) -> None:
        super().__init__()
        self.fns = list(fns)
        self.step = step
        self.single = single

    def forward(self, batch: Any) -> Any:
        for fn in self.fns:
            batch = fn(batch)
        return self.step(*elements(batch, self.single))
