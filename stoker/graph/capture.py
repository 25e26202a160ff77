"""Builds the IR of a whole training program: the pipeline's operators, then the traced step.

- every pipeline operator is one node; a torchvision-style ``Compose`` (anything with a
  ``.transforms`` list) inside a ``map`` is one node per transform;
- a map-style dataset is one opaque node (its ``__getitem__`` cannot be looked into);
- the traced step contributes one node per fx operation; the batch's elements are ``input``
  nodes fed by the last pipeline node.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import Any

import torch.fx as fx

from stoker.data.pipeline import Pipeline
from stoker.graph.ir import Graph, Node
from stoker.graph.trace import node_where


def _name_of(obj: Any) -> str:
    return getattr(obj, "__name__", None) or type(obj).__name__


def transforms_of(fn: Any) -> list[Any] | None:
    """The transform list of a torchvision-style ``Compose``, or None for a plain function."""
    inner = getattr(fn, "transforms", None)
    if isinstance(inner, (list, tuple)) and inner and all(callable(t) for t in inner):
        return list(inner)
    return None


def capture_pipeline(pipe: Pipeline, graph: Graph) -> str:
    """Adds one node per pipeline operator (and per Compose transform); returns the last node's name."""
    src = pipe.source
    if src.kind == "dataset":
        prev = graph.add(
            Node("p0:dataset", "dataset", f"{src.name}.__getitem__ (opaque)", stage="sample", target=src.data)
        ).name
    else:
        prev = graph.add(Node("p0:source", "source", f"source {src.name}", stage="sample", target=src.data)).name
    stage = "sample"
    for i, op in enumerate(pipe.ops, start=1):
        if op.kind == "batch":
            label = f"batch({op.args['size']}) + {op.name}"
            stage = "batch"
            prev = graph.add(Node(f"p{i}:batch", "batch", label, (prev,), stage, op.fn)).name
            continue
        if op.kind == "shuffle":
            prev = graph.add(Node(f"p{i}:shuffle", "shuffle", f"shuffle(seed={op.args['seed']})", (prev,), stage)).name
            continue
        parts = transforms_of(op.fn) if op.kind == "map" else None
        if parts is None:
            prev = graph.add(Node(f"p{i}:{op.name}", op.kind, f"{op.kind}({op.name})", (prev,), stage, op.fn)).name
            continue
        for j, t in enumerate(parts):
            tname = _name_of(t)
            prev = graph.add(Node(f"p{i}.{j}:{tname}", "transform", f"{op.name}[{j}] {tname}", (prev,), stage, t)).name
    return prev


def _index(key: Any) -> str:
    if isinstance(key, tuple):
        return ", ".join(_index(k) for k in key)
    if isinstance(key, slice):
        parts = ["" if v is None else str(v) for v in (key.start, key.stop)]
        return ":".join(parts) + (f":{key.step}" if key.step is not None else "")
    return "..." if key is Ellipsis else str(key)


def _label(node: fx.Node, root: Any) -> str:
    if node.op == "call_module":
        mod = root.get_submodule(node.target)
        return f"{node.target} ({type(mod).__name__})"
    if node.op == "call_function" and node.target is operator.getitem and len(node.args) == 2:
        return f"[{_index(node.args[1])}]"
    if node.op == "call_function":
        return _name_of(node.target)
    if node.op == "call_method":
        return f".{node.target}()"
    if node.op == "get_attr":
        return str(node.target)
    return node.op


def capture_step(gm: fx.GraphModule, graph: Graph, feed: str, labels: Mapping[int, str] | None = None) -> None:
    """Adds the traced step's nodes; the ``*args`` placeholder is the pipeline's last node ``feed``.

    ``labels`` names the step's positional inputs (``batch['x']``); an input labelled
    ``carry[...]`` is trainer-carried state: a ``carry`` node with no input from the pipeline.
    """
    labels = labels or {}
    placeholders = {n.name for n in gm.graph.nodes if n.op == "placeholder"}
    for node in gm.graph.nodes:
        if node.op == "placeholder":
            continue
        inputs = tuple(dict.fromkeys(feed if a.name in placeholders else a.name for a in node.all_input_nodes))
        if (
            node.op == "call_function"
            and node.target is operator.getitem
            and node.args
            and isinstance(node.args[0], fx.Node)
            and node.args[0].name in placeholders
        ):
            label = labels.get(node.args[1], f"batch[{node.args[1]}]")  # type: ignore[call-overload]
            if label.startswith("carry["):
                graph.add(Node(node.name, "carry", label, (), "model", node))
            else:
                graph.add(Node(node.name, "input", label, inputs, "model", node))
            continue
        graph.add(Node(node.name, node.op, _label(node, gm), inputs, "model", node, node_where(node)))


def capture(
    pipe: Pipeline, gm: fx.GraphModule, optimizer: Any = None, labels: Mapping[int, str] | None = None
) -> Graph:
    """The IR of the whole program: pipeline, traced step, and the optimiser when given."""
    graph = Graph()
    feed = capture_pipeline(pipe, graph)
    capture_step(gm, graph, feed, labels)
    if optimizer is not None:
        out = next(n.name for n in graph if n.kind == "output")
        graph.add(Node("optimizer", "optimizer", f"{type(optimizer).__name__}.step()", (out,), "model", optimizer))
    return graph
