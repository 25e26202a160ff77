"""``Plan.to_dot()``: Graphviz text with the data side and the training side as clusters.

Every value that crosses the cut gets a Send node in the data cluster and a Recv node in the
training cluster, labelled with its bytes per sample.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stoker.graph.plan import Plan


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _style(plan: Plan, name: str) -> str:
    v = plan.verdicts[name]
    if v.stateful:
        return 'style=filled fillcolor="#f4c7c3"'
    if name in plan.chosen.moved:
        return 'style=filled fillcolor="#b7e1cd"'
    if name in plan.sides.constants:
        return 'style="filled,dashed" fillcolor="#eeeeee"'
    return 'style=filled fillcolor="#ffffff"'


def to_dot(plan: Plan) -> str:
    """The plan as a ``digraph``; render with ``dot -Tpng`` or use :meth:`Plan.render` (no Graphviz)."""
    g = plan.graph
    data = {n for n in g.nodes if plan.side_of(n) == "data"}
    crossing = set(plan.crossing)
    lines = ["digraph stoker_plan {", "  rankdir=TB; node [shape=box fontsize=10];"]
    for cluster, title, names in (
        ("data", "data side (data workers)", [n for n in g.nodes if n in data]),
        ("train", "training side (trainer)", [n for n in g.nodes if n not in data]),
    ):
        lines.append(f"  subgraph cluster_{cluster} {{ label={_q(title)};")
        for name in names:
            tip = plan.verdicts[name].reason
            lines.append(f"    {_q(name)} [label={_q(g[name].label)} tooltip={_q(tip)} {_style(plan, name)}];")
        for name in sorted(crossing):
            side = "send" if cluster == "data" else "recv"
            size = f"{plan.costs.bytes.get(name, 0.0):,.0f} B/sample"
            lines.append(f"    {_q(side + ':' + name)} [label={_q(side.title() + ' ' + size)} shape=cds];")
        lines.append("  }")
    for node in g:
        for src in node.inputs:
            if src in crossing and node.name not in data:
                continue
            lines.append(f"  {_q(src)} -> {_q(node.name)};")
    for name in sorted(crossing):
        lines.append(f"  {_q(name)} -> {_q('send:' + name)};")
        lines.append(f"  {_q('send:' + name)} -> {_q('recv:' + name)} [style=bold color=blue];")
        for user in g.users(name):
            if user not in data:
                lines.append(f"  {_q('recv:' + name)} -> {_q(user)};")
    lines.append("}")
    return "\n".join(lines)
