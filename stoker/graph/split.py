"""Builds the two executable halves of a cut: the Send (data side) and the training module.

The data half is an fx ``GraphModule`` of the moved nodes, deep-copied onto the CPU so it can be
cloudpickled to worker processes without dragging the model along; it runs as a ``map`` after
``batch()``, so it sees exactly the batch the model would. The training half is a
``GraphModule`` over the *same* root as the unsplit step, so it shares the user's parameters and
buffers: an optimiser built on ``model.parameters()`` trains it, and BatchNorm statistics it
updates are the model's.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.fx as fx
from torch import nn

from stoker.graph.batch import BatchSpec, Carry, Unsplit, signature
from stoker.graph.specialise import LAYOUT


def elements(batch: Any, spec: BatchSpec | None) -> tuple[Any, ...]:
    """The batch as the step's positional inputs (``spec=None``: the whole batch is one input)."""
    return (batch,) if spec is None else spec.elements(batch)


def _materialise(node: fx.Node, graph: fx.Graph, env: dict[fx.Node, fx.Node]) -> None:
    """Copies the constants (get_attr) a node reads into ``graph`` on first use."""
    for arg in node.all_input_nodes:
        if arg.op == "get_attr" and arg not in env:
            env[arg] = graph.node_copy(arg)


def data_graph(gm: fx.GraphModule, on_data: set[str], crossing: Sequence[str]) -> fx.GraphModule:
    """The moved nodes as a CPU ``GraphModule``: ``(*batch) -> tuple(crossing values)``."""
    graph = fx.Graph()
    env: dict[fx.Node, fx.Node] = {}
    by_name = {n.name: n for n in gm.graph.nodes}
    for node in gm.graph.nodes:
        if node.op == "placeholder" or node.name in on_data:
            _materialise(node, graph, env)
            env[node] = graph.node_copy(node, lambda n: env[n])
    graph.output(tuple(env[by_name[c]] for c in crossing))
    half = fx.GraphModule(gm, graph, class_name="DataHalf")
    # A copy on the CPU: workers must not receive (or share) the model's device tensors.
    return copy.deepcopy(half).to("cpu")


def relayout(x: Any, shape: tuple[int, ...], stride: tuple[int, ...]) -> Any:
    """A received value in the memory layout the unsplit step had on the example.

    Transport delivers tensors contiguous; a value that was a transposed view (a log-mel
    spectrogram ``.transpose(1, 3)`` before ``BatchNorm2d``) must be laid out as it was, since
    some kernels (batch_norm's backward on the CPU) give other numbers for another layout.
    """
    if not isinstance(x, torch.Tensor) or tuple(x.shape) != shape or tuple(x.stride()) == stride:
        return x
    out = torch.empty_strided(shape, stride, dtype=x.dtype, device=x.device)
    out.copy_(x)
    return out


def _needs_relayout(node: fx.Node) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    layout = node.meta.get(LAYOUT)
    if layout is None:
        return None
    shape, stride = layout
    contiguous: list[int] = []
    step = 1
    for size in reversed(shape):
        contiguous.insert(0, step)
        step *= max(size, 1)
    numel = math.prod(shape)
    span = sum((size - 1) * s for size, s in zip(shape, stride, strict=True)) + 1
    # Only a dense permutation of the contiguous layout (no broadcast or overlapping views).
    if tuple(contiguous) == tuple(stride) or numel == 0 or 0 in stride or span != numel:
        return None
    return layout


def train_graph(
    gm: fx.GraphModule, on_data: set[str], crossing: Sequence[str], carried: Sequence[str] = ()
) -> fx.GraphModule:
    """The rest of the step: ``(*received, *carried) -> loss or output``, sharing the step's modules."""
    graph = fx.Graph()
    env: dict[fx.Node, fx.Node] = {}
    by_name = {n.name: n for n in gm.graph.nodes}
    for name in crossing:
        env[by_name[name]] = graph.placeholder(f"recv_{name}")
        layout = _needs_relayout(by_name[name])
        if layout is not None:
            env[by_name[name]] = graph.call_function(relayout, (env[by_name[name]], *layout))
    for name in carried:
        env[by_name[name]] = graph.placeholder(f"carry_{name}")
    for node in gm.graph.nodes:
        if node.op in ("placeholder", "get_attr") or node.name in on_data or node in env:
            continue
        _materialise(node, graph, env)
        env[node] = graph.node_copy(node, lambda n: env[n])
    return fx.GraphModule(gm, graph, class_name="TrainHalf")


class Send:
    """The data side's last ``map``: runs the moved nodes on a batch, returns what crosses.

    When the trace specialised on the example's shapes (``signature`` given), a batch with other
    shapes is sent whole as :class:`~stoker.graph.batch.Unsplit`, and the trainer runs the
    original step on it.

    Args:
        half: The data half (None when nothing moves: the batch's elements cross as they are).
        spec: The batch's layout (None: the whole batch crosses as one value).
        signature: Shapes and dtypes of the example's elements, or None when nothing was specialised.
    """

    def __init__(self, half: fx.GraphModule | None, spec: BatchSpec | None, signature: Any = None) -> None:
        self.half = half
        self.spec = spec
        self.signature = signature

    def __call__(self, batch: Any) -> tuple[Any, ...]:
        args = elements(batch, self.spec)
        if self.signature is not None and signature(args) != self.signature:
            return (Unsplit(args),)
        if self.half is None:
            return args
        with torch.no_grad():
            return tuple(self.half(*args))


class Step(nn.Module):
    """The training half as the user calls it: ``plan.train_module(*received)``.

    Adds to the traced half what a plain ``GraphModule`` cannot do: trainer-carried state (read
    before, written back after every step) and the run-time check of the trace's assumptions (a
    batch sent :class:`~stoker.graph.batch.Unsplit` runs the original, eager step; one warning).

    Args:
        half: The traced training half ``(*received, *carried) -> out or (out, *new_state)``.
        program: The eager, unsplit step (same modules).
        carry: The trainer-carried state, or None.
        why: What the trace specialised on, quoted in the warning.
    """

    def __init__(self, half: nn.Module, program: nn.Module, carry: Carry | None, why: str) -> None:
        super().__init__()
        self.traced = half  # not ``half``: nn.Module.half() casts to float16
        self.program = program
        self.carry = carry
        self.why = why
        self.warned = False

    def forward(self, *received: Any) -> Any:
        state = self.carry.values() if self.carry is not None else ()
        if len(received) == 1 and isinstance(received[0], Unsplit):
            if not self.warned:
                self.warned = True
                warnings.warn(
                    f"stoker: a batch with other shapes than the traced example ({self.why}) ran unsplit "
                    f"in the trainer; this is correct but moves nothing off the trainer for such batches",
                    stacklevel=2,
                )
            out = self.program(*received[0].elements, *state)
        else:
            out = self.traced(*received, *state)
        if self.carry is None:
            return out
        self.carry.update(out[1:])
        return out[0]


class TrainTail(nn.Module):
    """The training half when pipeline steps after ``batch()`` hold state: they run here, then the step.

    Args:
        fns: The stateful batch-level functions, in pipeline order.
        step: The whole step (a :class:`Step` over the traced step).
        spec: The layout of the batch the step receives.
        signature: Shapes the trace specialised on, or None.
    """

    def __init__(self, fns: Sequence[Callable[[Any], Any]], step: nn.Module, spec: BatchSpec, signature: Any) -> None:
        super().__init__()
        self.fns = list(fns)
        self.step = step
        self.spec = spec
        self.signature = signature

    def forward(self, batch: Any) -> Any:
        for fn in self.fns:
            batch = fn(batch)
        args = elements(batch, self.spec)
        if self.signature is not None and signature(args) != self.signature:
            return self.step(Unsplit(args))
        return self.step(*args)
