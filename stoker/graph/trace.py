"""Traces one training step (``model`` and, when given, ``loss_fn``): with values first, plain ``torch.fx`` as fallback.

The step is wrapped in :class:`Program` so the graph starts at the batch the pipeline yields
and ends at the loss (or the model's output); parameters stay shared with the user's model, so
an optimiser built on ``model.parameters()`` trains the split program too.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.fx as fx
from torch import nn

from stoker.graph.advice import advice_for
from stoker.graph.batch import BatchSpec, signature
from stoker.graph.marks import mark_of
from stoker.graph.specialise import Assumption, TraceStop, ValueTracer

# With the separator: ``.../site-packages/torch`` is a prefix of ``.../site-packages/torchaudio`` too,
# and a library's own frames (torchaudio, torchvision) are where its errors should point.
_TORCH_DIR = os.path.dirname(torch.__file__) + os.sep
_GRAPH_DIR = os.path.dirname(__file__) + os.sep


def is_internal(filename: str) -> bool:
    """A frame of torch itself or of stoker's tracer (never the place a user should look)."""
    return filename.startswith(_TORCH_DIR) or filename.startswith(_GRAPH_DIR)


def closure_modules(fn: Any) -> dict[str, nn.Module]:
    """Modules a loss function reaches through its closure or globals (``criterion = nn.NLLLoss()``).

    fx can only call a module it finds under the traced root, so these are registered under the
    loss (shared, not copied): ``loss_fn`` written the usual way traces like an ``nn.Module`` loss.
    """
    out: dict[str, nn.Module] = {}
    fn = getattr(fn, "__func__", fn)
    code = getattr(fn, "__code__", None)
    if code is None:
        return out
    cells = dict(zip(code.co_freevars, (c.cell_contents for c in fn.__closure__ or ()), strict=False))
    globs = getattr(fn, "__globals__", {})
    for name in (*code.co_freevars, *code.co_names):
        value = cells.get(name, globs.get(name))
        if isinstance(value, nn.Module) and name not in out:
            out[name] = value
    return out


class LossFn(nn.Module):
    """Holds a plain loss function so the step is one module (traced through like user code).

    Loss modules the function reaches through its closure or globals become submodules
    (``closure.<name>``), so fx finds them.
    """

    def __init__(self, fn: Callable[..., Any]) -> None:
        super().__init__()
        self.fn = fn
        self.closure = nn.ModuleDict(closure_modules(fn))

    def forward(self, output: Any, *targets: Any) -> Any:
        return self.fn(output, *targets)


class Program(nn.Module):
    """One step of the unsplit program: ``model(inputs)``, then ``loss(output, *targets)``.

    The step's positional inputs are the batch's elements in ``spec.keys`` order, then the carried
    state in ``carry_names`` order. With carried state the model returns ``(output, *new_state)``
    and the step returns ``(loss or output, *new_state)``.

    Args:
        model: The user's model (shared, not copied).
        loss_fn: ``None``, an ``nn.Module`` or a function ``(output, *targets) -> loss``.
        spec: The batch's layout.
        carry_names: Names of the trainer-carried state, passed to the model as keywords.
    """

    def __init__(
        self, model: nn.Module, loss_fn: Callable[..., Any] | None, spec: BatchSpec, carry_names: tuple[str, ...] = ()
    ) -> None:
        super().__init__()
        self.model = model
        if loss_fn is not None and not isinstance(loss_fn, nn.Module):
            loss_fn = LossFn(loss_fn)
        self.loss = loss_fn
        self.spec = spec
        self.carry_names = carry_names

    @property
    def n_batch(self) -> int:
        """Positional inputs that come from the batch (the rest are carried state)."""
        return len(self.spec.keys)

    def forward(self, *args: Any) -> Any:
        spec, n = self.spec, self.n_batch
        el = {k: args[i] for i, k in enumerate(spec.keys)}
        state = {name: args[n + j] for j, name in enumerate(self.carry_names)}
        if spec.keyword:
            out = self.model(**{k: el[k] for k in spec.inputs}, **state)
        else:
            out = self.model(*[el[k] for k in spec.inputs], **state)
        new: tuple[Any, ...] = ()
        if self.carry_names:
            new = tuple(out[1 + j] for j in range(len(self.carry_names)))
            out = out[0]
        if self.loss is not None:
            out = self.loss(out, *[el[k] for k in spec.targets])
        return (out, *new) if self.carry_names else out


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
        failure: Why tracing failed (construct, line, advice), or None when the whole step traced.
        method: ``"values"`` (specialised on the example), ``"partial"`` (specialised, with
            graph breaks: modules that could not be captured run eagerly in the trainer),
            ``"fx"`` (plain symbolic) or ``"opaque"`` (the model or the loss kept as one node).
        assumptions: What the trace specialised on (shapes, lengths, trip counts).
        signature: Shapes and dtypes of the example's elements, checked at run time when
            ``assumptions`` is not empty.
        breaks: One line per graph break: the module kept whole, the construct, its line, advice.
    """

    gm: fx.GraphModule
    program: Program
    failure: str | None = None
    method: str = "fx"
    assumptions: list[Assumption] = field(default_factory=list)
    signature: Any = None
    breaks: list[str] = field(default_factory=list)


MAX_BREAKS = 8  # graph breaks tried before falling back to keeping the model whole


def user_frame(tb: list[traceback.FrameSummary]) -> str:
    """The innermost frame outside torch and stoker.graph, as ``file:line  code``."""
    for frame in reversed(tb):
        fname = frame.filename
        if not is_internal(fname):
            return f"{fname}:{frame.lineno}  {(frame.line or '').strip()}"
    return "an unknown line"


def classify(exc: BaseException) -> str:
    """The kind of a trace failure (a key of :data:`stoker.graph.advice.ADVICE`)."""
    if isinstance(exc, TraceStop):
        if exc.kind == "run" and exc.__cause__ is not None:
            return classify(exc.__cause__) if not isinstance(exc.__cause__, TraceStop) else exc.kind
        return exc.kind if exc.kind != "unknown" else "other"
    text = str(exc)
    if "is not installed as a submodule" in text:
        return "module_not_installed"
    if "symbolically traced variables cannot be used as inputs to control flow" in text:
        return "branch"
    if "'len' is not supported" in text or "Proxy object cannot be iterated" in text:
        return "iterate"
    if isinstance(exc, TypeError) and ("Proxy" in text or "__array__" in text or "numpy" in text):
        return "foreign_call"
    return "other"


def _describe(part: str, exc: BaseException) -> str:
    kind = classify(exc)
    where = user_frame(traceback.extract_tb(exc.__traceback__))
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"cannot trace {part}: {first} at {where}. Advice: {advice_for(kind)}"


def _try_values(program: Program, example: tuple[Any, ...], leaves: set[str]) -> Traced:
    """Traces with values; a module whose code cannot be captured becomes a graph break and the trace is retried.

    A graph break keeps the innermost module (below the model itself) that the trace stopped in
    as one node, run eagerly in the trainer like a stateful module; what comes before it can still
    move. A stop in the model's or the loss's own ``forward`` is raised to the caller.
    """
    breaks: list[str] = []
    while True:
        tracer = ValueTracer(example, leaves)
        try:
            graph = tracer.trace_values(program)
            break
        except Exception as exc:
            path = tracer.break_path
            if path is None or path in ("model", "loss") or len(breaks) >= MAX_BREAKS:
                raise
            kind = type(program.get_submodule(path)).__name__
            breaks.append(_describe(f"{path} ({kind}); it runs eagerly in the trainer", exc))
            leaves = leaves | {path}
    # The batch's elements only: carried state never reaches the Send that checks them.
    sig = signature(example[: program.n_batch]) if tracer.assumptions else None
    method = "partial" if breaks else "values"
    return Traced(fx.GraphModule(program, graph), program, None, method, tracer.assumptions, sig, breaks)


def trace_program(program: Program, leaf_paths: Iterable[str] = (), example: tuple[Any, ...] | None = None) -> Traced:
    """Traces ``program`` on ``example``; falls back step by step, keeping what it cannot trace as one node.

    Order: with values (specialised on the example), plain ``torch.fx``, then with the loss kept
    whole, with the model kept whole, with both kept whole. The failure names the part and the
    construct that stopped the first attempt, with advice for that kind of failure.

    Args:
        program: The step to trace.
        leaf_paths: Module paths to keep as single nodes (e.g. modules found to mutate attributes).
        example: The step's positional inputs on the example batch (None: plain fx only).
    """
    leaves = set(leaf_paths)
    first: BaseException | None = None
    if example is not None:
        try:
            return _try_values(program, example, leaves)
        except Exception as exc:
            first = exc
    try:
        graph = _Tracer(leaves).trace(program)
        return Traced(fx.GraphModule(program, graph), program)
    except Exception as exc:
        first = first or exc
    name = type(program.model).__name__
    attempts = [
        ({"loss"}, f"the loss function (the whole of {name} still traced; the loss stays in the trainer)"),
        ({"model"}, f"{name}.forward (the whole model stays on the training side)"),
        ({"model", "loss"}, f"{name}.forward or the loss (both stay on the training side)"),
    ]
    for opaque, part in attempts:
        if "loss" in opaque and program.loss is None:
            continue
        try:
            traced = _try_values(program, example, leaves | opaque) if example is not None else None
        except Exception:
            traced = None
        if traced is None:
            try:
                graph = _Tracer(leaves | opaque).trace(program)
            except Exception:
                continue
            traced = Traced(fx.GraphModule(program, graph), program)
        traced.failure = _describe(part, first)
        traced.method = "opaque"
        return traced
    raise ValueError(f"stoker cannot trace even the outline of the step: {_describe(name, first)}") from first


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
        if is_internal(fname):
            continue
        lineno = parts[1].strip().removeprefix("line ").strip() if len(parts) > 1 else "?"
        code = lines[i + 1].strip() if i + 1 < len(lines) and not lines[i + 1].strip().startswith("File ") else ""
        best = f"{os.path.basename(fname)}:{lineno}  {code}"
    return best
