"""The state rules: one small function per reason a node can hold state.

Each rule reads a node and the probe results and returns a :class:`Finding` (or None). A
finding is *certain* (parameters, a written buffer) or *unsure* (stoker cannot prove the node
stateless); both keep the node on the training side, but a user pin may override an unsure one.
Rules are listed in :data:`RULES`; :func:`stoker.graph.analysis.analyse` runs them all.
"""

from __future__ import annotations

import builtins
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.fx as fx
from torch import nn

from stoker.graph.ir import Node
from stoker.graph.marks import mark_of
from stoker.graph.specialise import assign

# Functions the tracer itself records (item assignment as a copy): plain tensor code, no state.
_TRACER_FUNCTIONS = (assign,)


@dataclass(frozen=True)
class Finding:
    reason: str
    certain: bool = True


@dataclass
class Context:
    """What the rules read besides the node.

    Attributes:
        root: The traced step's root module (fx targets are paths in it).
        step_writes: ``{"path.attr": "buffer" | "attribute"}`` the step changed (probe_step).
        callable_changes: Pipeline node -> attributes its function changed across calls.
        failure: Why tracing the model failed, or None.
    """

    root: nn.Module
    step_writes: dict[str, str] = field(default_factory=dict)
    callable_changes: dict[str, list[str]] = field(default_factory=dict)
    failure: str | None = None


def _module(node: Node, ctx: Context) -> nn.Module | None:
    if node.kind != "call_module":
        return None
    return ctx.root.get_submodule(node.target.target)


def _path(node: Node) -> str:
    return str(node.target.target) if node.is_model and node.kind in ("call_module", "get_attr") else ""


def marked(node: Node, ctx: Context) -> Finding | None:
    obj: Any = _module(node, ctx) if node.kind == "call_module" else node.target
    if node.is_model and node.kind in ("call_function", "call_method"):
        obj = node.target.target
    reason = mark_of(obj) if obj is not None else None
    return Finding(f"marked by the user: {reason}") if reason else None


def parameters(node: Node, ctx: Context) -> Finding | None:
    """Parameters that train. Frozen ones (``requires_grad=False``) get no gradient, so no
    optimiser step changes them: like read-only buffers they are constants (a front end's STFT
    and mel matrices), and the node may move."""
    mod = _module(node, ctx)
    if mod is not None:
        names = [n for n, p in mod.named_parameters() if p.requires_grad]
        if names:
            count = sum(p.numel() for p in mod.parameters() if p.requires_grad)
            shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
            return Finding(f"holds parameters {shown} ({count:,} values)")
    if node.kind == "get_attr" and node.is_model:
        value = _attr(ctx.root, _path(node))
        if isinstance(value, nn.Parameter) and value.requires_grad:
            return Finding(f"reads parameter {_path(node)}")
    return None


def _attr(root: nn.Module, path: str) -> Any:
    obj: Any = root
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def _writes(node: Node, ctx: Context, kind: str) -> list[str]:
    path = _path(node)
    if not path:
        return []
    if node.kind == "get_attr":
        return [path] if ctx.step_writes.get(path) == kind else []
    return [k for k, v in ctx.step_writes.items() if v == kind and k.startswith(path + ".")]


def written_buffers(node: Node, ctx: Context) -> Finding | None:
    hits = _writes(node, ctx, "buffer")
    if not hits:
        return None
    what = ", ".join(h.rsplit(".", 1)[-1] for h in hits)
    return Finding(f"writes buffer(s) {what} in forward (state carried to the next step)")


def mutated_attributes(node: Node, ctx: Context) -> Finding | None:
    hits = _writes(node, ctx, "attribute") or ctx.callable_changes.get(node.name, [])
    if not hits:
        return None
    what = ", ".join(h.rsplit(".", 1)[-1] if "." in h and " " not in h else h for h in hits)
    return Finding(f"changes {what} between calls")


# Modules whose forward depends on the train/eval switch: on the data side the trainer's
# model.train()/model.eval() would not reach them.
_MODE_MODULES: tuple[type[nn.Module], ...] = (
    nn.modules.dropout._DropoutNd,
    nn.modules.batchnorm._NormBase,
    nn.RReLU,
)
_MODE_FUNCTIONS = {
    torch.nn.functional.dropout,
    torch.nn.functional.dropout1d,
    torch.nn.functional.dropout2d,
    torch.nn.functional.dropout3d,
    torch.nn.functional.alpha_dropout,
    torch.nn.functional.feature_alpha_dropout,
    torch.nn.functional.rrelu,
}


def mode_dependent(node: Node, ctx: Context) -> Finding | None:
    mod = _module(node, ctx)
    if (mod is not None and isinstance(mod, _MODE_MODULES)) or (
        node.kind == "call_function" and node.target.target in _MODE_FUNCTIONS
    ):
        return Finding("unsure: behaves differently in train and eval mode, a switch the data side would miss", False)
    return None


_KNOWN_MODULES = ("torch", "operator", "_operator", "builtins", "math")


def opaque_call(node: Node, ctx: Context) -> Finding | None:
    if node.kind == "call_function":
        fn = node.target.target
        home = getattr(fn, "__module__", None) or ""
        if mark_of(fn) or fn in (getattr, operator.getitem, *_TRACER_FUNCTIONS) or fn in vars(builtins).values():
            return None
        if fn in vars(math).values():
            return None
        if home.split(".")[0] not in _KNOWN_MODULES:
            return Finding(
                f"unsure: calls {home}.{getattr(fn, '__name__', fn)}, which stoker cannot look inside", False
            )
    mod = _module(node, ctx)
    if (
        mod is not None
        and mark_of(mod) is None
        and not type(mod).__module__.startswith("torch.")
        and node.target.target not in ("model", "loss")
    ):
        return Finding(f"unsure: {type(mod).__name__} ran as one opaque module", False)
    return None


def untraced(node: Node, ctx: Context) -> Finding | None:
    if ctx.failure and node.kind == "call_module" and node.target.target in ("model", "loss"):
        # Certain: an opaque whole model cannot be pinned to the data side.
        # The failure itself is the plan's note; repeating it here would print it twice.
        return Finding("unsure what it holds: it could not be traced, so it runs whole (see plan.failure)")
    return None


def carried(node: Node, ctx: Context) -> Finding | None:
    if node.kind == "carry":
        return Finding("state the trainer carries between steps (declared with stoker.carry); never crosses the cut")
    return None


def in_place(node: Node, ctx: Context) -> Finding | None:
    # An in-place op on a value other nodes read changes what they see; on the data side it
    # would run before the value crosses, ahead of readers that ran first in the original.
    if (
        node.kind == "call_method"
        and str(node.target.target).endswith("_")
        and not str(node.target.target).startswith("_")
    ):
        src = node.target.args[0] if node.target.args else None
        if isinstance(src, fx.Node) and len(src.users) > 1:
            return Finding(
                f"unsure: {node.target.target} writes in place into {src.name}, which other nodes read", False
            )
    return None


def optimizer(node: Node, ctx: Context) -> Finding | None:
    if node.kind == "optimizer":
        return Finding("optimiser state (step counts, momentum and moment buffers)")
    return None


RULES: dict[str, Callable[[Node, Context], Finding | None]] = {
    "marked": marked,
    "parameters": parameters,
    "written_buffers": written_buffers,
    "mutated_attributes": mutated_attributes,
    "mode_dependent": mode_dependent,
    "opaque_call": opaque_call,
    "untraced": untraced,
    "carried": carried,
    "in_place": in_place,
    "optimizer": optimizer,
}
