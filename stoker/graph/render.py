"""Draws a plan to a PNG with matplotlib and a simple layered layout (no Graphviz needed).

Nodes sit in rows by depth (longest path from the source), data side on the left half of each
row and training side on the right; cut edges are drawn bold blue with their bytes per sample.
Colours: red = stateful, green = moved out of forward, grey = constant, white = other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stoker.graph.plan import Plan

_FILL = {"stateful": "#f4c7c3", "moved": "#b7e1cd", "constant": "#eeeeee", "other": "#ffffff"}
_EDGE = {"data": "#1a73e8", "train": "#e8710a"}


def _layout(plan: Plan) -> dict[str, tuple[float, float]]:
    depth: dict[str, int] = {}
    for node in plan.graph:
        depth[node.name] = 1 + max((depth[i] for i in node.inputs), default=-1)
    for name in plan.sides.constants:  # draw a constant just above its first reader
        users = plan.graph.users(name)
        depth[name] = max(0, min((depth[u] for u in users), default=1) - 1)
    rows: dict[int, dict[str, list[str]]] = {}
    for name, d in depth.items():
        rows.setdefault(d, {"data": [], "train": []})[plan.side_of(name)].append(name)
    pos: dict[str, tuple[float, float]] = {}
    for d, sides in rows.items():
        for i, name in enumerate(sides["data"]):
            pos[name] = (-1.2 - 2.4 * (len(sides["data"]) - 1 - i), -d)
        for i, name in enumerate(sides["train"]):
            pos[name] = (1.2 + 2.4 * i, -d)
    return pos


def _kind(plan: Plan, name: str) -> str:
    if plan.verdicts[name].stateful:
        return "stateful"
    if name in plan.chosen.moved:
        return "moved"
    if name in plan.sides.constants:
        return "constant"
    return "other"


def render(plan: Plan, path: str) -> str:
    """Writes the PNG to ``path`` and returns it."""
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    pos = _layout(plan)
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    width = max(8.0, (max(xs) - min(xs)) * 1.0 + 4)
    height = max(4.0, (max(ys) - min(ys)) * 0.75 + 2)
    fig, ax = plt.subplots(figsize=(min(width, 60), min(height, 120)))
    crossing = set(plan.crossing)
    labelled: set[str] = set()
    for node in plan.graph:
        x1, y1 = pos[node.name]
        for src in node.inputs:
            x0, y0 = pos[src]
            cut = src in crossing and plan.side_of(node.name) == "train"
            ax.annotate(
                "",
                xy=(x1, y1 + 0.18),
                xytext=(x0, y0 - 0.18),
                arrowprops={"arrowstyle": "->", "color": "#1f3fbf" if cut else "#888888", "lw": 2.2 if cut else 0.8},
            )
            if cut and src not in labelled:  # one label per value, near its Send
                labelled.add(src)
                label = f"Send->Recv {plan.costs.bytes.get(src, 0.0):,.0f} B/sample"
                ax.text(0.75 * x0 + 0.25 * x1, 0.75 * y0 + 0.25 * y1, label, fontsize=7, color="#1f3fbf", ha="left")
    for name, (x, y) in pos.items():
        side = plan.side_of(name)
        ax.text(
            x,
            y,
            plan.graph[name].label[:32],
            ha="center",
            va="center",
            fontsize=7,
            bbox={"boxstyle": "round", "fc": _FILL[_kind(plan, name)], "ec": _EDGE[side], "lw": 1.2},
        )
    ax.axvline(0, color="#1f3fbf", ls="--", lw=1)
    ax.set_title("stoker plan: data side (left, blue) | training side (right, orange); red = stateful, green = moved")
    ax.set_xlim(min(xs) - 1.5, max(xs) + 1.5)
    ax.set_ylim(min(ys) - 0.8, max(ys) + 0.8)
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
