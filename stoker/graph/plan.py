"""The result of :func:`stoker.partition`: both halves, the figures behind the cut, and views of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch.fx as fx
from torch import nn

from stoker.data.pipeline import Pipeline
from stoker.graph.analysis import Verdict
from stoker.graph.batch import BatchSpec, Carry
from stoker.graph.cut.base import Candidate
from stoker.graph.cut.candidates import Sides
from stoker.graph.ir import Graph
from stoker.graph.measure import Costs
from stoker.graph.specialise import Assumption
from stoker.graph.split import Send


@dataclass
class Plan:
    """A training program split into a data part and a training part.

    Use it as ``stoker.Loader(plan, ...)`` (the data part, ending with the Send) and call
    ``plan.train_module(*received)`` in the training loop (the training part, Recv nodes as inputs).

    Attributes:
        graph: The whole program's IR.
        verdicts: Node name -> why it holds state (or not).
        sides: Fixed sides, movable nodes, pins.
        costs: Measured bytes and seconds per sample per node.
        candidates: Every evaluated cut.
        chosen: The cut in use.
        naive: The "everything stateless moves" cut, for comparison.
        why: Why ``chosen`` won.
        objective: The objective's name.
        workers: Data workers the choice assumed.
        pipeline: The user's pipeline.
        send: The data side's last map (runs the moved nodes, returns what crosses).
        train_module: The training half, an ``nn.Module`` sharing the model's parameters.
        step: The traced, unsplit step (``GraphModule``), for reference and tests.
        failure: Why the model could not be traced (then nothing moves), or None.
        tail_ops: Pipeline operator indices that run in the trainer (stateful, after batch).
        mode: ``"train"`` or ``"eval"``: the model's mode when traced.
        method: How the step was captured: ``"values"`` (traced on the example batch, shape
            code specialised), ``"partial"`` (the same, with graph breaks), ``"fx"`` (plain
            symbolic trace) or ``"opaque"`` (a fallback).
        assumptions: What the trace specialised on (shapes, lengths, trip counts, with lines).
        signature: Shapes and dtypes of the example's elements; a batch that differs runs unsplit.
        spec: The batch's layout (what the model and the loss read).
        carry: The trainer-carried state, or None.
        breaks: Graph breaks (``method="partial"``): each module kept whole and run eagerly in
            the trainer, with the construct that stopped the trace, its line and advice.
    """

    graph: Graph
    verdicts: dict[str, Verdict]
    sides: Sides
    costs: Costs
    candidates: list[Candidate]
    chosen: Candidate
    naive: Candidate
    why: str
    objective: str
    workers: int
    pipeline: Pipeline
    send: Send
    train_module: nn.Module
    step: fx.GraphModule
    failure: str | None = None
    tail_ops: list[int] = field(default_factory=list)
    mode: str = "train"
    method: str = "fx"
    assumptions: list[Assumption] = field(default_factory=list)
    signature: Any = None
    spec: BatchSpec | None = None
    carry: Carry | None = None
    breaks: list[str] = field(default_factory=list)

    @property
    def data_module(self) -> fx.GraphModule | None:
        """The moved part of the model (CPU ``GraphModule``), or None when nothing moved."""
        return self.send.half

    @property
    def data_nodes(self) -> list[str]:
        on = self.sides.base | self.chosen.moved
        return [n for n in self.graph.nodes if n in on]

    @property
    def train_nodes(self) -> list[str]:
        on = self.sides.base | self.chosen.moved | self.sides.constants
        return [n for n in self.graph.nodes if n not in on]

    def side_of(self, name: str) -> str:
        """``"data"`` or ``"train"``; a constant belongs to the data side when only data nodes read it."""
        on = self.sides.base | self.chosen.moved
        if name in self.sides.constants:
            users = self.graph.users(name)
            return "data" if users and all(u in on for u in users) else "train"
        return "data" if name in on else "train"

    @property
    def crossing(self) -> tuple[str, ...]:
        """Values that cross the cut, in the order ``train_module`` receives them."""
        return self.chosen.crossing

    def __stoker_pipeline__(self) -> Pipeline:
        """The data part for :class:`stoker.Loader`: the pipeline, then the Send as a map after batch."""
        ops = self.pipeline.ops[: self.tail_ops[0]] if self.tail_ops else self.pipeline.ops
        return Pipeline(self.pipeline.source, tuple(ops)).map(self.send, name="send")

    def explain(self, verbose: bool = False) -> str:
        """Nodes per side, why each stateful node is stateful, the cut's edges with bytes/sample."""
        from stoker.graph.explain import explain

        return explain(self, verbose)

    def to_dot(self) -> str:
        """Graphviz text of the program, the two sides as clusters, a Send/Recv pair on every cut edge."""
        from stoker.graph.dot import to_dot

        return to_dot(self)

    def render(self, path: str) -> str:
        """Draws the plan to a PNG with matplotlib (no Graphviz needed); returns the path."""
        from stoker.graph.render import render

        return render(self, path)

    def summary(self) -> dict[str, Any]:
        """The plan's figures as plain data (for reports and benchmarks)."""
        c, n = self.chosen, self.naive
        return {
            "objective": self.objective,
            "moved": sorted(c.moved),
            "crossing": list(c.crossing),
            "bytes_per_sample": c.bytes_per_sample,
            "naive_bytes_per_sample": n.bytes_per_sample,
            "data_s_per_sample": c.data_s,
            "train_s_per_sample": c.train_s,
            "candidates": len(self.candidates),
            "workers": self.workers,
            "traced": self.failure is None,
            "method": self.method,
            "assumptions": [a.what for a in self.assumptions],
            "breaks": list(self.breaks),
        }
