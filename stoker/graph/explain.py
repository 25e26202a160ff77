"""``Plan.explain()``: the plan as text a person can check."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stoker.graph.cut.candidates import COMPUTE

if TYPE_CHECKING:
    from stoker.graph.plan import Plan


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:,.1f} us"


def _b(size: float) -> str:
    return f"{size:,.0f} B"


def _row(plan: Plan, name: str, extra: str = "") -> str:
    node = plan.graph[name]
    c = plan.costs
    figures = f"{_us(c.seconds.get(name, 0.0)):>12}/sample {_b(c.bytes.get(name, 0.0)):>12}/sample"
    return f"  {name:<22} {node.label[:40]:<40} {figures}{'  ' + extra if extra else ''}"


def _data_side(plan: Plan) -> list[str]:
    lines = ["Data side (runs on the data workers; model nodes run after batch(), on whole batches):"]
    for name in plan.data_nodes:
        v = plan.verdicts[name]
        tags = []
        if name in plan.chosen.moved:
            where = plan.graph[name].where
            tags.append(f"moved from forward ({where})" if where else "moved from forward")
        if name in plan.sides.overridden:
            tags.append(f"pinned to data over: {plan.sides.overridden[name]}")
        if v.note:
            tags.append(v.note)
        lines.append(_row(plan, name, "; ".join(tags)))
    return lines


def _train_side(plan: Plan, verbose: bool) -> list[str]:
    lines = ["Training side (runs in the trainer):"]
    hidden = 0
    for name in plan.train_nodes:
        node = plan.graph[name]
        v = plan.verdicts[name]
        blocked = plan.sides.blocked.get(name, "")
        if v.stateful:
            lines.append(_row(plan, name, f"STATEFUL: {v.reason}"))
        elif name in plan.sides.tail:
            lines.append(_row(plan, name, "after a stateful pipeline step"))
        elif name in plan.sides.movable:
            lines.append(_row(plan, name, "stateless, kept here by the cost-aware cut"))
        elif blocked.startswith("pinned") or node.kind not in COMPUTE or verbose:
            lines.append(_row(plan, name, blocked))
        else:
            hidden += 1
    if hidden:
        lines.append(f"  ... and {hidden} more nodes that depend on state (explain(verbose=True) lists them)")
    return lines


def _cut(plan: Plan) -> list[str]:
    c = plan.chosen
    lines = [f"Cut: {len(c.crossing)} value(s) cross (Send on the data side -> Recv in the trainer):"]
    for name in c.crossing:
        shape = plan.costs.shapes.get(name, "")
        lines.append(f"  {name:<22} {shape:<36} {_b(plan.costs.bytes.get(name, 0.0)):>12}/sample")
    lines.append(f"  total {_b(c.bytes_per_sample)}/sample")
    return lines


def _choice(plan: Plan) -> list[str]:
    c, n, w = plan.chosen, plan.naive, plan.workers
    lines = [
        f"Choice ({plan.objective}, {len(plan.candidates)} valid cuts, {w} data workers): {plan.why}.",
        f"  {'cut':<24} {'moved':>5} {'bytes/sample':>14} {'data us/sample':>15} {'train us/sample':>16}  bottleneck",
    ]
    for label, cand in (("chosen", c), ("naive (all stateless)", n)):
        side = cand.binding(w)
        lines.append(
            f"  {label:<24} {len(cand.moved):>5} {cand.bytes_per_sample:>14,.0f} "
            f"{cand.data_s * 1e6:>15,.1f} {cand.train_s * 1e6:>16,.1f}  {side}"
        )
    if c.bytes_per_sample > 0 and n.bytes_per_sample > c.bytes_per_sample:
        lines.append(
            f"  the chosen cut crosses {n.bytes_per_sample / c.bytes_per_sample:.1f}x fewer bytes than the naive cut"
        )
    elif c.bytes_per_sample > n.bytes_per_sample:
        lines.append(
            "  the chosen cut crosses more bytes than the naive cut, which would leave the data side the bottleneck"
        )
    return lines


def _capture(plan: Plan) -> str:
    how = {
        "values": "traced on the example batch (shape-dependent Python specialised)",
        "fx": "traced symbolically with torch.fx",
        "opaque": "traced with part of the step kept whole (see the note below)",
        "partial": "traced on the example batch, with graph breaks (modules run eagerly in the trainer)",
    }.get(plan.method, plan.method)
    lines = [f"Capture: {how}."]
    for i, line in enumerate(plan.breaks, start=1):
        lines.append(f"  graph break {i}: {line}")
    if plan.assumptions:
        lines.append(
            f"  specialised on {len(plan.assumptions)} fact(s) of the example; a batch with other shapes "
            f"({plan.signature}) runs unsplit in the trainer, with one warning:"
        )
        lines += [f"  {a.what:<44} {a.where}" for a in plan.assumptions[:12]]
        if len(plan.assumptions) > 12:
            lines.append(f"  ... and {len(plan.assumptions) - 12} more (plan.assumptions)")
    return "\n".join(lines)


def explain(plan: Plan, verbose: bool = False) -> str:
    """The plan as text: header, both sides, the cut, the choice and its figures, notes."""
    g = plan.graph
    header = (
        f"stoker plan: {len(g)} nodes; {len(plan.data_nodes)} on the data side "
        f"({len(plan.chosen.moved)} moved out of the model's forward), {len(plan.train_nodes)} on the training side.\n"
        f"Traced in {plan.mode} mode; figures per sample are medians over the batches after the first "
        f"(batch of {plan.costs.batch_size}; data side on CPU, training side forward only on {plan.costs.device})."
    )
    parts = [header, "\n".join(_data_side(plan)), "\n".join(_train_side(plan, verbose)), "\n".join(_cut(plan))]
    if plan.sides.constants:
        names = ", ".join(str(g[n].target.target) for n in plan.graph.nodes if n in plan.sides.constants)
        parts.append(f"Constants (read-only buffers and literals, copied to whichever side reads them): {names}")
    parts.append("\n".join(_choice(plan)))
    parts.append(_capture(plan))
    if plan.failure:
        parts.append(f"Note: {plan.failure}")
    return "\n\n".join(parts)
