"""Which nodes hold state, and why: runs every rule of :mod:`stoker.graph.rules` on every node.

Per-sample randomness is not state: pipeline functions draw from generators seeded by
(seed, epoch, index) (:mod:`stoker.data.rng`), and random tensor ops moved out of ``forward``
draw from the per-batch generator the Loader seeds the same way. Such nodes get a note instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stoker.data.pipeline import Pipeline
from stoker.data.rng import seeded
from stoker.graph.ir import Graph, Node
from stoker.graph.probe import probe_callable
from stoker.graph.rules import RULES, Context, Finding
from stoker.graph.specialise import RANDOM_FUNCTIONS

_RANDOM_METHODS = {"uniform_", "normal_", "bernoulli_", "random_", "exponential_", "geometric_", "cauchy_"}


@dataclass
class Verdict:
    """The analysis of one node.

    Attributes:
        findings: Every rule that fired (empty: stateless).
        note: Something worth knowing that is not state (e.g. draws random numbers).
    """

    findings: list[Finding] = field(default_factory=list)
    note: str = ""

    @property
    def stateful(self) -> bool:
        return bool(self.findings)

    @property
    def certain(self) -> bool:
        """True when some finding is certain (a pin to the data side cannot override it)."""
        return any(f.certain for f in self.findings)

    @property
    def reason(self) -> str:
        """Why the node is stateful; certain findings only, when there are any."""
        shown = [f for f in self.findings if f.certain] or self.findings
        return "; ".join(f.reason for f in shown)


def _note(node: Node) -> str:
    if not node.is_model or node.kind not in ("call_function", "call_method"):
        return ""
    target = node.target.target
    if target in RANDOM_FUNCTIONS or target in _RANDOM_METHODS:
        return "random: on the data side it draws from the per-batch generator seeded by (seed, epoch, index)"
    return ""


def _call_seeded(fn: Any, arg: Any) -> Any:
    with seeded(0, 0, 0):
        return fn(arg)


def _getitem(dataset: Any, index: Any) -> Any:
    with seeded(0, 0, index):
        return dataset[index]


def probe_pipeline(pipe: Pipeline, graph: Graph, first_inputs: dict[str, Any]) -> dict[str, list[str]]:
    """Attributes each pipeline function (and the dataset) changes between calls."""
    out: dict[str, list[str]] = {}
    for node in graph:
        if node.is_model:
            continue
        if node.kind == "dataset":
            found = probe_callable(node.target, 0, _getitem)
        elif node.kind in ("map", "transform", "filter") or (node.kind == "batch" and node.name in first_inputs):
            if node.name not in first_inputs:
                continue
            found = probe_callable(node.target, first_inputs[node.name], _call_seeded)
        else:
            continue
        if found:
            out[node.name] = found
    return out


def analyse(graph: Graph, ctx: Context) -> dict[str, Verdict]:
    """Runs every rule on every node; returns node name -> verdict."""
    verdicts: dict[str, Verdict] = {}
    for node in graph:
        v = Verdict(note=_note(node))
        for rule in RULES.values():
            finding = rule(node, ctx)
            if finding is not None:
                v.findings.append(finding)
        verdicts[node.name] = v
    return verdicts
