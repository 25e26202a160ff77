"""Measures what the cut choice needs: bytes per sample of every value, seconds per sample of every node.

The pipeline's first samples run in-process under the same per-sample seeding the workers use;
the traced step runs on a copy of the model (so measuring never touches the user's parameters,
buffers or random stream) on the CPU for data-side figures and on the model's device for
training-side figures.
"""

from __future__ import annotations

import copy
import math
import pickle
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.fx as fx

from stoker.data.pipeline import Pipeline
from stoker.data.rng import BATCH_NAMESPACE, seeded
from stoker.graph.ir import Graph, Node

_DROPPED = object()
ROUNDS = 3  # batches timed after the first (which pays one-off set-up)
clock = time.perf_counter  # module-level so a test can drive it


def nbytes(value: Any) -> float:
    """Bytes a value takes when it crosses the cut (tensor payloads; 8 per Python scalar).

    A value that cannot be pickled cannot cross at all: it costs ``inf`` bytes, so no cut that
    would send it is chosen (0 would make it look free to send).
    """
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, (list, tuple)):
        return sum(nbytes(v) for v in value)
    if isinstance(value, dict):
        return sum(nbytes(v) for v in value.values())
    if value is None:
        return 0
    if isinstance(value, (bool, int, float, torch.dtype, torch.device)):
        return 8
    if hasattr(value, "nbytes"):
        return int(value.nbytes)
    try:
        return len(pickle.dumps(value, protocol=4))
    except (pickle.PicklingError, TypeError, AttributeError):  # what pickle raises for "cannot pickle"
        return math.inf


def describe(value: Any) -> str:
    """``uint8[32, 3, 64, 64]`` for a tensor, a short type name otherwise."""
    if isinstance(value, torch.Tensor):
        return f"{str(value.dtype).removeprefix('torch.')}{list(value.shape)}"
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(describe(v) for v in value[:4]) + (", ..." if len(value) > 4 else "") + ")"
    return type(value).__name__


@dataclass
class Costs:
    """Measured figures, per sample.

    Attributes:
        seconds: Node name -> seconds per sample (data-side nodes on CPU).
        device_seconds: Node name -> seconds per sample on the model's device (forward only).
        bytes: Node name -> bytes per sample of the node's output.
        shapes: Node name -> dtype and shape of the node's output on the example batch.
        batch_size: Samples in the example batch.
        device: Where the model lives.
        first_inputs: Pipeline node name -> the first value it received (for the state probe).
        batch: The example batch the model receives.
        first_seconds: Node name -> seconds per sample on the first batch (one-off set-up included).
        spread: Node name -> max - min seconds per sample over the timed batches (data side, CPU).
        device_spread: Node name -> the same for the training side's timed runs.
        data_rounds: Per timed round, node name -> seconds per sample on the CPU (pipeline nodes
            from the batches after the first, model nodes from the step's timed runs).
        device_rounds: Per timed run, node name -> seconds per sample on the model's device.
    """

    seconds: dict[str, float] = field(default_factory=dict)
    device_seconds: dict[str, float] = field(default_factory=dict)
    bytes: dict[str, float] = field(default_factory=dict)
    shapes: dict[str, str] = field(default_factory=dict)
    batch_size: int = 1
    device: str = "cpu"
    first_inputs: dict[str, Any] = field(default_factory=dict)
    batch: Any = None
    first_seconds: dict[str, float] = field(default_factory=dict)
    spread: dict[str, float] = field(default_factory=dict)
    device_spread: dict[str, float] = field(default_factory=dict)
    data_rounds: list[dict[str, float]] = field(default_factory=list)
    device_rounds: list[dict[str, float]] = field(default_factory=list)


def _apply(kind: str, fn: Any, value: Any) -> Any:
    if kind in ("map", "transform"):
        return fn(value)
    if kind == "filter":
        return value if fn(value) else _DROPPED
    return value  # shuffle: a permutation of indices, nothing per sample


def _one_batch(
    pipe: Pipeline, nodes: list[Node], costs: Costs, start: int, count: int, seed: int
) -> tuple[dict[str, float], dict[str, float], Any, int]:
    """Runs samples ``start .. start+count`` (wrapping) through the pipeline nodes.

    Returns seconds and bytes per node (summed over the samples, per batch after ``batch()``),
    the batch (or sample), and the samples kept.
    """
    sample_nodes = [n for n in nodes if n.stage == "sample" and n.kind not in ("source", "dataset")]
    after = [n for n in nodes if n.stage == "batch"]
    src = nodes[0]
    spent = dict.fromkeys((n.name for n in nodes), 0.0)
    size = dict.fromkeys((n.name for n in nodes), 0.0)
    kept: list[Any] = []
    for j in range(count):
        i = (start + j) % len(pipe)
        with seeded(seed, 0, i):
            t0 = clock()
            value = pipe.source.get(i)
            spent[src.name] += clock() - t0
            size[src.name] += nbytes(value)
            for node in sample_nodes:
                costs.first_inputs.setdefault(node.name, value)
                t0 = clock()
                value = _apply(node.kind, node.target, value)
                spent[node.name] += clock() - t0
                if value is _DROPPED:
                    break
                size[node.name] += nbytes(value)
        if value is not _DROPPED:
            kept.append(value)
    if not kept:
        raise ValueError(f"the first {count} samples were all filtered out; stoker needs one batch to measure the plan")
    value = kept if after else kept[0]
    with seeded(seed, 0, BATCH_NAMESPACE):
        for node in after:
            costs.first_inputs.setdefault(node.name, value)
            t0 = clock()
            value = node.target(value) if node.kind in ("batch", "map") else _apply(node.kind, node.target, value)
            spent[node.name] += clock() - t0
            size[node.name] = nbytes(value)
            costs.shapes[node.name] = describe(value)
    return spent, size, value, len(kept)


def run_pipeline(pipe: Pipeline, graph: Graph, costs: Costs, samples: int, seed: int = 0, rounds: int = ROUNDS) -> Any:
    """Runs the pipeline's first batch, then ``rounds`` more; returns the first batch (or sample).

    The first batch pays one-off set-up (files opened, caches filled on first use), so it is kept
    apart (:attr:`Costs.first_seconds`); the seconds per sample are the median over the batches
    after it, and their spread (max - min) is the noise the bottleneck verdict must exceed.
    """
    nodes = [n for n in graph if not n.is_model]
    after = {n.name for n in nodes if n.stage == "batch"}
    count = min(samples, len(pipe))
    spent, size, batch, n = _one_batch(pipe, nodes, costs, 0, count, seed)
    per = {name: spent[name] / max(count, 1) for name in spent}
    costs.first_seconds.update(per)
    timed = [_one_batch(pipe, nodes, costs, count * (r + 1), count, seed)[0] for r in range(rounds)]
    for name in spent:
        runs = [t[name] / max(count, 1) for t in timed] or [per[name]]
        costs.seconds[name] = statistics.median(runs)
        costs.spread[name] = max(runs) - min(runs)
        costs.bytes[name] = size[name] / max(n if name in after else count, 1)
    costs.data_rounds = [{name: t[name] / max(count, 1) for name in t} for t in timed]
    costs.batch_size = n if after else 1
    costs.batch = batch
    return batch


class _Timer(fx.Interpreter):
    def __init__(self, gm: fx.GraphModule, sync: Any) -> None:
        super().__init__(gm)
        self.sync = sync
        self.seconds: dict[str, float] = {}
        self.sizes: dict[str, float] = {}
        self.shapes: dict[str, str] = {}
        self.spread: dict[str, float] = {}
        self.rounds: list[dict[str, float]] = []

    def run_node(self, n: fx.Node) -> Any:
        self.sync()
        t0 = time.perf_counter()
        out = super().run_node(n)
        self.sync()
        self.seconds[n.name] = time.perf_counter() - t0
        self.sizes[n.name] = nbytes(out)
        self.shapes[n.name] = describe(out)
        return out


def _to(value: Any, device: torch.device) -> Any:
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, (list, tuple)):
        return type(value)(_to(v, device) for v in value)
    return value


def _time_step(gm: fx.GraphModule, args: tuple[Any, ...], device: torch.device, repeats: int) -> _Timer:
    twin = copy.deepcopy(gm).to(device)
    args = _to(copy.deepcopy(args), device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    runs = []
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        for i in range(repeats + 1):
            t = _Timer(twin, sync)
            t.run(*args)
            if i:  # the first run pays for lazy kernel initialisation
                runs.append(t)
    best = runs[-1]
    best.spread = {k: max(r.seconds[k] for r in runs) - min(r.seconds[k] for r in runs) for k in best.seconds}
    best.rounds = [dict(r.seconds) for r in runs]
    best.seconds = {k: statistics.median(r.seconds[k] for r in runs) for k in best.seconds}
    return best


def measure_step(gm: fx.GraphModule, args: tuple[Any, ...], costs: Costs, repeats: int = 3) -> None:
    """Times every node of the traced step (median of ``repeats`` runs) and sizes its output."""
    params = list(gm.parameters())
    device = params[0].device if params else torch.device("cpu")
    costs.device = str(device)
    cpu = _time_step(gm, args, torch.device("cpu"), repeats)
    dev = cpu if device.type == "cpu" else _time_step(gm, args, device, repeats)
    per = max(costs.batch_size, 1)
    for name, s in cpu.seconds.items():
        costs.seconds[name] = s / per
        costs.device_seconds[name] = dev.seconds[name] / per
        costs.spread[name] = cpu.spread[name] / per
        costs.device_spread[name] = dev.spread[name] / per
        costs.bytes[name] = cpu.sizes[name] / per
        costs.shapes[name] = cpu.shapes[name]
    for i, run in enumerate(cpu.rounds):
        if i == len(costs.data_rounds):
            costs.data_rounds.append({})
        costs.data_rounds[i].update({k: v / per for k, v in run.items()})
    costs.device_rounds = [{k: v / per for k, v in run.items()} for run in dev.rounds]
