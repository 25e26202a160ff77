"""Traces one training step (``model`` and, when given, ``loss_fn``) with ``torch.fx``.

The step is wrapped in :class:`Program` so the graph starts at the batch the pipeline yields
and ends at the loss (or the model's output); parameters stay shared with the user's model, so
an optimiser built on ``model.parameters()`` trains the split program too.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
import torch.fx as fx
from torch import nn

from stoker.graph.marks import mark_of

_TORCH_DIR = os.path.dirname(torch.__file__)
_GRAPH_DIR = os.path.dirname(__file__)


class LossFn(nn.Module):
    """Holds a plain loss function so the step is one module (traced through like user code)."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, output: Any, target: Any) -> Any:
        return self.fn(output, target)


class Program(nn.Module):
    """One step of the unsplit program: ``model(*inputs)``, then ``loss(output, target)``.

    With a loss, the last element of the batch is the target and the others are the model's
    inputs; without one, every element is a model input.

    Args:
        model: The user's model (shared, not copied).
        loss_fn: ``None``, an ``nn.Module`` or a function ``(output, target) -> loss``.
        n_inputs: Elements in the batch (1 for a batch that is a single tensor).
    """

    def __init__(self, model: nn.Module, loss_fn: Callable[..., Any] | None, n_inputs: int) -> None:
        super().__init__()
        self.model = model
        if loss_fn is not None and not isinstance(loss_fn, nn.Module):
            loss_fn = LossFn(loss_fn)
        self.loss = loss_fn
        self.n_inputs = n_inputs

    def forward(self, *args: Any) -> Any:
        xs = [args[i] for i in range(self.n_inputs)]
        if self.loss is None:
            return self.model(*xs)
        return self.loss(self.model(*xs[:-1]), xs[-1])


class _Tracer(fx.Tracer):
    """fx's tracer, plus: marked modules and the given paths stay opaque (one node each)."""

    def __init__(self, leaf_paths: Iterable[str]) -> None:
        super().__init__()
        self.record_stack_traces = True
        self.leaf_paths = set(leaf_paths)

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        if module_qualified_name in self.leaf_paths or mark_of(m) is not None:
            return True
        return super().is_leaf_module(m, module_qualified_name)


@dataclass
class Traced:
    """The traced step.

    Attributes:
        gm: The step as an fx ``GraphModule`` (root: ``program``).
        program: The eager step, for probing and as the root of the split halves.
        failure: Why tracing the model failed (file, line, code), or None when it succeeded.
    """

    gm: fx.GraphModule
    program: Program
    failure: str | None = None


def user_frame(tb: list[traceback.FrameSummary]) -> str:
    """The innermost frame outside torch and stoker.graph, as ``file:line  code``."""
    for frame in reversed(tb):
        fname = frame.filename
        if not fname.startswith(_TORCH_DIR) and not fname.startswith(_GRAPH_DIR):
            return f"{fname}:{frame.lineno}  {(frame.line or '').strip()}"
    return "an unknown line"


def trace_program(program: Program, leaf_paths: Iterable[str] = ()) -> Traced:
    """Traces ``program``; on failure keeps the whole model as one node (the safe fallback).

    Args:
        program: The step to trace.
        leaf_paths: Module paths to keep as single nodes (e.g. modules found to mutate attributes).
    """
    leaves = set(leaf_paths)
    try:
        graph = _Tracer(leaves).trace(program)
        return Traced(fx.GraphModule(program, graph), program)
    except Exception as exc:
        where = user_frame(traceback.extract_tb(exc.__traceback__))
        failure = (
            f"torch.fx cannot trace {type(program.model).__name__}.forward: {type(exc).__name__}: {exc} "
            f"at {where}. Fallback: the whole model stays on the training side. To let its stateless "
            f"prefix move, write the branch as tensor ops (torch.where) or move it into the pipeline."
        )
    try:
        graph = _Tracer(leaves | {"model"}).trace(program)
    except Exception:
        # The loss cannot be traced either: keep it opaque too.
        graph = _Tracer(leaves | {"model", "loss"}).trace(program)
    return Traced(fx.GraphModule(program, graph), program, failure)


def node_where(node: fx.Node) -> str:
    """``file:line  code`` of the user's line that produced an fx node, when fx recorded it."""
    stack = node.stack_trace or ""
    lines = [ln for ln in stack.strip().splitlines() if ln.strip()]
    best = ""
    for i, line in enumerate(lines):
        text = line.strip()
        if not text.startswith("File "):
            continue
        parts = text.split(",")
        fname = parts[0][len("File ") :].strip().strip('"')
        if fname.startswith(_TORCH_DIR) or fname.startswith(_GRAPH_DIR):
            continue
        lineno = parts[1].strip().removeprefix("line ").strip() if len(parts) > 1 else "?"
        code = lines[i + 1].strip() if i + 1 < len(lines) and not lines[i + 1].strip().startswith("File ") else ""
        best = f"{os.path.basename(fname)}:{lineno}  {code}"
    return best
