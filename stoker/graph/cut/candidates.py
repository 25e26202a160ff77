"""Which model nodes may move, every valid cut, and each cut's measured figures.

A valid cut moves a *down-closed* set of movable nodes: with every node, its movable inputs.
Movable means stateless (after the user's pins), not downstream of any stateful node, and in a
pipeline that batches (moved nodes run as a ``map`` after ``batch()``, so they see exactly the
tensors the model would). Constants (read-only buffers, tensor literals) are copied to whichever
side reads them and never cross.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from stoker.graph.analysis import Verdict
from stoker.graph.cut.base import Candidate
from stoker.graph.ir import Graph, Node
from stoker.graph.measure import Costs

COMPUTE = ("call_module", "call_function", "call_method")
ENUMERATION_LIMIT = 4096  # beyond this many cuts, fall back to the topological prefixes


@dataclass
class Sides:
    """The fixed part of every cut.

    Attributes:
        base: Nodes always on the data side (pipeline up to the tail, batch elements).
        tail: Pipeline nodes after ``batch()`` that hold state, so run in the trainer.
        movable: Model nodes that may move, in topological order.
        forced: Movable nodes the user pinned to the data side (with their movable inputs).
        constants: Stateless ``get_attr`` nodes, copied to both sides.
        blocked: Model node -> why it cannot move.
        overridden: Node -> the unsure reason a pin to the data side overrode.
    """

    base: set[str] = field(default_factory=set)
    tail: list[str] = field(default_factory=list)
    movable: list[str] = field(default_factory=list)
    forced: set[str] = field(default_factory=set)
    constants: set[str] = field(default_factory=set)
    blocked: dict[str, str] = field(default_factory=dict)
    overridden: dict[str, str] = field(default_factory=dict)


def resolve_pins(graph: Graph, pins: Mapping[str, str] | None) -> dict[str, str]:
    """Maps pin keys (node names, module paths like ``"model.norm"``, or labels) to node names."""
    out: dict[str, str] = {}
    for key, side in (pins or {}).items():
        if side not in ("data", "train"):
            raise ValueError(f"pin {key!r}={side!r}: the side should be 'data' or 'train'")
        hits = [n.name for n in graph if key in (n.name, n.label) or (n.is_model and _path(n) == key)]
        if not hits:
            names = ", ".join(n.name for n in graph if n.is_model and n.kind in COMPUTE)
            raise ValueError(f"pin {key!r} names no node; model nodes are: {names}")
        for name in hits:
            out[name] = side
    return out


def _path(node: Node) -> str:
    return str(node.target.target) if node.kind in ("call_module", "get_attr") else ""


def _stateful(node: Node, v: Verdict, pin: str | None, sides: Sides) -> bool:
    if not v.stateful:
        return False
    if pin == "data":
        if v.certain:
            raise ValueError(f"cannot pin {node.name!r} ({node.label}) to the data side: {v.reason}")
        sides.overridden[node.name] = v.reason
        return False
    return True


def _pipeline_sides(graph: Graph, verdicts: Mapping[str, Verdict], pins: Mapping[str, str], sides: Sides) -> set[str]:
    state: set[str] = set()
    for node in graph:
        if node.is_model:
            continue
        v = verdicts[node.name]
        if v.stateful and pins.get(node.name) == "data":
            # Pipeline steps already run in worker processes without a split: the user vouches
            # that what changes (a cache, a logging counter) need not be shared.
            sides.overridden[node.name] = v.reason
            sides.base.add(node.name)
            continue
        if v.stateful and (node.stage == "sample" or node.kind == "batch"):
            raise ValueError(
                f"the pipeline step {node.label!r} holds state ({v.reason}) and runs per sample on the data "
                f"workers, where that state would be split among processes. Make it stateless (draw "
                f"randomness from stoker.sample_rng()), move it after .batch() so it can run in the trainer, "
                f"or pass pin={{{node.name!r}: 'data'}} if the change is harmless (a cache, a counter for logs)."
            )
        if pins.get(node.name) == "train" and (node.stage == "sample" or node.kind == "batch"):
            raise ValueError(
                f"cannot pin the pipeline step {node.label!r} to the training side: it runs per sample, "
                f"before batch(); only steps after batch() can run in the trainer"
            )
        if v.stateful or sides.tail or pins.get(node.name) == "train":
            sides.tail.append(node.name)
            state.add(node.name)
        else:
            sides.base.add(node.name)
    return state


def find_sides(
    graph: Graph, verdicts: Mapping[str, Verdict], pins: Mapping[str, str], batched: bool, failure: str | None = None
) -> Sides:
    """Splits the nodes into always-data, never-data and movable, applying the user's pins."""
    sides = Sides()
    state = _pipeline_sides(graph, verdicts, pins, sides)
    train_pins: set[str] = set()
    for node in graph:
        if not node.is_model:
            continue
        pin = pins.get(node.name)
        if node.kind == "input":
            if not sides.tail:  # with a stateful tail the batch is unpacked in the trainer
                sides.base.add(node.name)
        elif _stateful(node, verdicts[node.name], pin, sides):
            state.add(node.name)
            sides.blocked[node.name] = "stateful"
        elif node.kind == "get_attr":
            sides.constants.add(node.name)
        elif pin == "train":
            train_pins.add(node.name)
    below = graph.descendants(state)
    pinned_below = graph.descendants(train_pins) | train_pins
    for node in graph:
        if not node.is_model or node.kind not in COMPUTE or node.name in sides.blocked:
            continue
        if node.name in below:
            ups = sorted(graph.ancestors([node.name]) & state, key=list(graph.nodes).index)
            sides.blocked[node.name] = f"depends on state ({ups[-1]})" if ups else "depends on state"
        elif node.name in pinned_below:
            sides.blocked[node.name] = "pinned to the training side" + ("" if node.name in train_pins else " (input)")
        elif not batched:
            sides.blocked[node.name] = "the pipeline has no batch(): the model sees batches, the data side samples"
        else:
            sides.movable.append(node.name)
    for name, side in pins.items():
        if side == "data" and graph[name].is_model and graph[name].kind in COMPUTE:
            if name not in sides.movable:
                raise ValueError(
                    f"cannot pin {name!r} ({graph[name].label}) to the data side: {sides.blocked.get(name, 'not movable')}"
                )
            sides.forced |= {name} | (graph.ancestors([name]) & set(sides.movable))
    return sides


class _TooMany(Exception):
    pass


def enumerate_cuts(graph: Graph, sides: Sides, limit: int = ENUMERATION_LIMIT) -> list[frozenset[str]]:
    """Every down-closed set of movable nodes containing the forced ones (or prefixes past ``limit``)."""
    mv = sides.movable
    member = set(mv)
    preds = {n: [p for p in graph[n].inputs if p in member] for n in mv}
    out: list[frozenset[str]] = []

    def rec(i: int, chosen: set[str]) -> None:
        if len(out) > limit:
            raise _TooMany
        if i == len(mv):
            out.append(frozenset(chosen))
            return
        n = mv[i]
        if all(p in chosen for p in preds[n]):
            chosen.add(n)
            rec(i + 1, chosen)
            chosen.discard(n)
        if n not in sides.forced:
            rec(i + 1, chosen)

    try:
        rec(0, set())
        return out
    except (_TooMany, RecursionError):
        prefixes = {frozenset(mv[:k]) | sides.forced for k in range(len(mv) + 1)}
        closed = [s | frozenset(graph.ancestors(s) & member) for s in prefixes]
        return sorted(set(closed), key=len)


def _spread(rounds: list[dict[str, float]], median: Mapping[str, float], nodes: Iterable[str]) -> float:
    """Max - min over the timed rounds of one side's total seconds per sample (its noise)."""
    names = list(nodes)
    totals = [sum(r.get(n, median.get(n, 0.0)) for n in names) for r in rounds]
    return max(totals) - min(totals) if len(totals) > 1 else 0.0


def evaluate(graph: Graph, costs: Costs, sides: Sides, moved: frozenset[str]) -> Candidate:
    """The figures of one cut: what crosses, bytes/sample, data-side and training-side seconds/sample."""
    data = sides.base | moved
    users: dict[str, list[str]] = {n: [] for n in graph.nodes}
    for node in graph:
        for i in node.inputs:
            users[i].append(node.name)
    crossing = tuple(
        n
        for n in graph.nodes
        if n in data and n not in sides.constants and any(u not in data and u not in sides.constants for u in users[n])
    )
    data_s = sum(costs.seconds.get(n, 0.0) for n in data)
    train_nodes = [n.name for n in graph if n.name not in data and (n.kind in COMPUTE or n.name in sides.tail)]
    train_s = sum(costs.device_seconds.get(n, costs.seconds.get(n, 0.0)) for n in train_nodes)
    size = sum(costs.bytes.get(n, 0.0) for n in crossing)
    data_noise = _spread(costs.data_rounds, costs.seconds, data)
    train_noise = _spread(costs.device_rounds, costs.device_seconds, train_nodes)
    return Candidate(moved, crossing, size, data_s, train_s, data_noise, train_noise)
