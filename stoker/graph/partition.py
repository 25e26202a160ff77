"""``stoker.partition``: split a training program into a data part and a training part.

Steps: run the pipeline's first batches (measuring them), trace the step on the example batch
(:mod:`stoker.graph.trace`: with values, plain ``torch.fx`` as fallback), probe a
copy of the step for written buffers and changed attributes, analyse every node, enumerate the
valid cuts, measure each, and let the objective choose; then build the Send and the training half.
"""

from __future__ import annotations

import contextlib
import random
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from stoker.data.loader import as_pipeline
from stoker.data.pipeline import Pipeline
from stoker.graph.analysis import analyse, probe_pipeline
from stoker.graph.batch import BatchSpec, Carry, spec_of
from stoker.graph.capture import capture, capture_pipeline
from stoker.graph.cut.base import Candidate, get_objective
from stoker.graph.cut.candidates import Sides, enumerate_cuts, evaluate, find_sides, resolve_pins
from stoker.graph.cut.mincut import min_bytes_cut
from stoker.graph.ir import Graph
from stoker.graph.measure import Costs, measure_step, run_pipeline
from stoker.graph.plan import Plan
from stoker.graph.probe import probe_step
from stoker.graph.rules import Context
from stoker.graph.split import Send, Step, TrainTail, data_graph, train_graph
from stoker.graph.trace import Program, Traced, trace_program
from stoker.system import cpu_count

MEASURE_SAMPLES = 64  # at most this many samples run through the pipeline to measure it


def _leaves_for(writes: Mapping[str, str], gm: Any) -> set[str]:
    """Modules that change Python attributes: fx would run that code once at trace time, so keep them whole."""
    leaves = {k.rsplit(".", 1)[0] for k, v in writes.items() if v == "attribute" and "." in k}
    called = {n.target for n in gm.graph.nodes if n.op == "call_module"}
    return {p for p in leaves if not any(p == c or p.startswith(c + ".") for c in called)}


def _hooked(model: nn.Module) -> set[str]:
    """Modules with forward hooks: fx drops hooks of modules it traces through, so keep them whole."""
    return {
        f"model.{path}" if path else "model"
        for path, m in model.named_modules()
        if m._forward_hooks or m._forward_pre_hooks
    }


def _tail_index(name: str) -> int:
    return int(name.split(":", 1)[0][1:].split(".")[0]) - 1


@contextlib.contextmanager
def _global_rng_kept() -> Iterator[None]:
    """Restores torch's, numpy's and Python's global generators: planning seeds them per sample."""
    py, npy = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        try:
            yield
        finally:
            random.setstate(py)
            np.random.set_state(npy)


def partition(
    pipe: Any,
    model: nn.Module,
    loss_fn: Callable[..., Any] | None = None,
    example: Any = None,
    *,
    pin: Mapping[str, str] | None = None,
    objective: str = "fewest_bytes",
    workers: int | None = None,
    optimizer: Any = None,
    seed: int = 0,
    inputs: Any = None,
    target: Any = None,
    carry: Carry | None = None,
) -> Plan:
    """Splits ``pipe`` + ``model`` (+ ``loss_fn``) into a data part and a training part.

    The batch the pipeline yields is the step's input: a tensor is the model's one input; a
    tuple holds the model's inputs, followed by the target when ``loss_fn`` is given; a dict or
    dataclass holds keyword inputs and a ``target``/``label(s)``/``y`` field (see
    :func:`stoker.graph.batch.spec_of`; ``inputs=`` and ``target=`` choose otherwise).

    The step is traced on the example batch, so shape-dependent Python specialises; what it
    specialised on is ``plan.assumptions``, and a batch with other shapes runs unsplit (one warning).

    Args:
        pipe: A :class:`stoker.Pipeline` (or a map-style Dataset).
        model: The model, in the mode it trains in (``model.train()``).
        loss_fn: ``(output, *targets) -> loss``; a module or a function, traced with the model
            (loss modules it reaches through its closure, like ``criterion``, trace too).
        example: The batch (or, for an unbatched pipeline, the sample) the model receives;
            default: the pipeline's first batch, run here under the Loader's per-sample seeding.
        pin: Node -> ``"data"`` or ``"train"``; keys are node names, labels or module paths
            (``"model.norm"``). A pin to the data side overrides only *unsure* findings.
        objective: How to choose the cut: ``"fewest_bytes"`` (default), ``"fastest"``,
            ``"all_stateless"`` (the naive rule) or ``"nothing"`` (see :mod:`stoker.graph.cut`).
        workers: Data workers the data side will have (default: CPU cores here).
        optimizer: The optimiser, shown as the stateful last node.
        seed: Seed of the measuring run's per-sample randomness.
        inputs: Batch elements (indices or keys) the model takes; default: all but the targets.
        target: Batch element(s) the loss reads after the output (``0`` for the model's input,
            a tuple for several, ``()`` for none); default: a tuple's last element.
        carry: State the trainer carries between steps (:func:`stoker.carry`): passed to the
            model as keyword arguments, never crosses the cut; the model returns
            ``(output, *new_state)`` and ``plan.train_module`` keeps the new state in ``carry``.

    Returns:
        The :class:`Plan`.
    """
    with _global_rng_kept():  # the trainer's torch, numpy and random streams are as they were
        return _partition(
            pipe, model, loss_fn, example, pin, objective, workers, optimizer, seed, inputs, target, carry
        )


def _partition(
    pipe: Any,
    model: nn.Module,
    loss_fn: Callable[..., Any] | None,
    example: Any,
    pin: Mapping[str, str] | None,
    objective: str,
    workers: int | None,
    optimizer: Any,
    seed: int,
    inputs: Any,
    target: Any,
    carry: Carry | None,
) -> Plan:
    pipe = as_pipeline(pipe)
    if not isinstance(model, nn.Module):
        raise TypeError(f"partition() needs the model as an nn.Module, got {type(model).__name__}")
    workers = cpu_count() if workers is None else workers
    if workers < 1:
        raise ValueError(f"{workers=} should be >= 1")
    objective_fn = get_objective(objective)
    costs = Costs()
    spec, batch_args = _example_args(pipe, costs, example, loss_fn, seed, inputs, target)
    if carry is not None and not isinstance(carry, Carry):
        raise TypeError(f"carry= should be stoker.carry(name=value, ...), got {type(carry).__name__}")
    names = carry.names if carry is not None else ()
    args = batch_args + (carry.values() if carry is not None else ())
    program = Program(model, loss_fn, spec, names)
    traced, writes = _trace(program, args)
    labels = {i: spec.label(k) for i, k in enumerate(spec.keys)}
    labels.update({len(spec.keys) + j: f"carry[{n!r}]" for j, n in enumerate(names)})
    graph = capture(pipe, traced.gm, optimizer, labels)
    measure_step(traced.gm, args, costs)
    ctx = Context(traced.gm, writes, probe_pipeline(pipe, graph, costs.first_inputs), traced.failure)
    verdicts = analyse(graph, ctx)
    sides = find_sides(graph, verdicts, resolve_pins(graph, pin), pipe.batch_op is not None)
    candidates = _candidates(graph, sides, costs)
    chosen, why = objective_fn(candidates, workers)
    naive, _ = get_objective("all_stateless")(candidates, workers)
    tail = sorted({_tail_index(n) for n in sides.tail})
    send, train = _halves(pipe, graph, traced, sides, chosen, tail, carry)
    mode = "train" if model.training else "eval"
    return Plan(
        graph, verdicts, sides, costs, candidates, chosen, naive, why, objective, workers,
        pipe, send, train, traced.gm, traced.failure, tail, mode,
        traced.method, traced.assumptions, traced.signature, spec, carry, traced.breaks,
    )  # fmt: skip


def _example_args(
    pipe: Pipeline, costs: Costs, example: Any, loss_fn: Any, seed: int, inputs: Any, target: Any
) -> tuple[BatchSpec, tuple[Any, ...]]:
    """Runs (and measures) the pipeline's first batches; returns the batch's layout and the example's elements."""
    size = pipe.batch_op.args["size"] if pipe.batch_op else 1
    batch = run_pipeline(pipe, capture_pipeline_only(pipe), costs, min(size, MEASURE_SAMPLES), seed)
    if example is not None:
        batch = example
    spec = spec_of(batch, loss_fn is not None, inputs, target)
    return spec, spec.elements(batch)


def _trace(program: Program, args: tuple[Any, ...]) -> tuple[Traced, dict[str, str]]:
    """Traces the step, probes a copy of it for state, and retraces keeping attribute-changing modules whole."""
    hooked = _hooked(program.model)
    traced = trace_program(program, hooked, args)
    try:
        writes = probe_step(program, args)
    except Exception as exc:
        raise ValueError(
            f"running the model on the pipeline's batch failed ({type(exc).__name__}: {exc}); "
            f"check that the pipeline yields what the model takes, or pass example="
        ) from exc
    extra = _leaves_for(writes, traced.gm)
    if extra and traced.failure is None:
        traced = trace_program(program, extra | hooked, args)
    if traced.failure:
        warnings.warn(f"stoker.partition: {traced.failure}", stacklevel=4)
    elif traced.breaks:
        shown = "; ".join(f"({i}) {b}" for i, b in enumerate(traced.breaks, start=1))
        warnings.warn(f"stoker.partition: captured with {len(traced.breaks)} graph break(s): {shown}", stacklevel=4)
    return traced, writes


def _candidates(graph: Graph, sides: Sides, costs: Costs) -> list[Candidate]:
    cuts = set(enumerate_cuts(graph, sides))
    cuts.add(min_bytes_cut(graph, sides, costs))  # exact even where enumeration fell back to prefixes
    return [evaluate(graph, costs, sides, moved) for moved in sorted(cuts, key=lambda m: (len(m), sorted(m)))]


def _halves(
    pipe: Pipeline,
    graph: Graph,
    traced: Traced,
    sides: Sides,
    chosen: Candidate,
    tail: list[int],
    carry: Carry | None,
) -> tuple[Send, nn.Module]:
    """The Send (last map of the data side) and the training module for the chosen cut."""
    gm, program, sig = traced.gm, traced.program, traced.signature
    why = "; ".join(a.what for a in traced.assumptions[:3]) + (" ..." if len(traced.assumptions) > 3 else "")
    carried = [n.name for n in graph if n.kind == "carry"]
    if tail:
        fns = [op.fn for op in pipe.ops[tail[0] :] if op.fn is not None]
        # The batch crosses whole: train_module(batch) runs the stateful tail, then the step.
        step = Step(gm, program, carry, why)
        return Send(None, None), TrainTail(fns, step, program.spec, sig)
    on_data = {n for n in sides.base | chosen.moved if graph[n].is_model}
    half = train_graph(gm, on_data, chosen.crossing, carried)
    send = Send(data_graph(gm, on_data, chosen.crossing), program.spec, sig)
    if sig is None and carry is None:
        return send, half
    return send, Step(half, program, carry, why)


def capture_pipeline_only(pipe: Any) -> Graph:
    """The pipeline's nodes alone (to run them before the model is traced)."""
    graph = Graph()
    capture_pipeline(pipe, graph)
    return graph
