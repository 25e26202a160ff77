"""Runs a pipeline's operators on a few real samples and records what each one is.

For every per-sample operator the probe finds out, on real inputs:

- whether it reads the RNG: the per-sample generators it asked for
  (:func:`stoker.data.rng.sample_rngs_drawn`) and whether the global ``random``/``numpy``/
  ``torch`` generators moved while it ran;
- whether it is deterministic: the same output under another (seed, epoch) key (this also
  catches functions that read :func:`stoker.sample_key` or OS entropy);
- its cost (seconds per sample, the faster of the two calls, median over samples) and the bytes
  of its output.

A declared ``random=True`` mark (:mod:`stoker.optimize.marks`) makes an operator an RNG user even
when the probe saw no draw; a declared ``random=False`` never overrides a draw the probe saw.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from stoker.data.pipeline import Op
from stoker.data.rng import seeded
from stoker.optimize.chain import Chain
from stoker.optimize.marks import traits_of
from stoker.optimize.values import fresh_copy, nbytes, same
from stoker.optimize.watch import Snapshot


class _Gone:
    """A probe sample that an earlier filter dropped."""

    def __repr__(self) -> str:
        return "GONE"


GONE = _Gone()


@dataclass
class OpFacts:
    """What the probe learnt about one per-sample operator.

    Attributes:
        name: The operator's name.
        kind: ``"map"`` or ``"filter"``.
        uses_rng: It reads the RNG (probed or declared).
        deterministic: Same output whatever the sample key, every time, and no RNG read.
        cost_s: Median seconds per sample.
        out_bytes: Mean bytes of its output (of its input, for a filter).
        why: How ``uses_rng``/``deterministic`` were decided, for the report.
    """

    name: str
    kind: str
    uses_rng: bool
    deterministic: bool
    cost_s: float
    out_bytes: float
    why: str


@dataclass
class Probe:
    """The probe of one chain.

    Attributes:
        seed: Seed of the sample keys used.
        indices: The source indices probed.
        read_s: Median seconds to read a source item.
        read_drew: The source read drew from an RNG on a probe sample (nothing can be cached).
        values: ``values[k][j]`` is the input of sample op ``k`` for probe sample ``j``;
            ``values[len(ops)]`` are the outputs; :data:`GONE` where a filter dropped it.
        ops: Facts per sample op.
    """

    seed: int
    indices: list[int]
    read_s: float
    values: list[list[Any]]
    ops: list[OpFacts]
    read_drew: bool = False

    def kept(self, k: int) -> list[int]:
        """Probe samples still alive at the input of op ``k``."""
        return [j for j, v in enumerate(self.values[k]) if v is not GONE]


@dataclass
class Call:
    """One call of an operator under a sample key."""

    out: Any
    seconds: float
    drew: bool


def call(fn: Any, value: Any, seed: int, epoch: int, index: int) -> Call:
    """Calls ``fn`` on a copy of ``value`` under the key (seed, epoch, index), watching the RNGs."""
    arg = fresh_copy(value)  # copies the sample's own bytes only, never a whole tensor's storage
    with seeded(seed, epoch, index):
        before = Snapshot.take()
        t0 = time.perf_counter()
        out = fn(arg)
        seconds = time.perf_counter() - t0
        drew = before.drew_since()
    return Call(out, seconds, drew)


def _facts(op: Op, inputs: list[Any], indices: list[int], seed: int) -> tuple[OpFacts, list[Any]]:
    outs: list[Any] = []
    times: list[float] = []
    drew = varied = False
    for value, idx in zip(inputs, indices):
        if value is GONE:
            outs.append(GONE)
            continue
        main = call(op.fn, value, seed, 0, idx)
        seconds = main.seconds
        if not (drew or main.drew):  # an op seen drawing is random already: no need to vary the key
            # Another key: an output that depends on the key, or on OS entropy, differs here.
            other = call(op.fn, value, seed + 1, 1, idx)
            drew = other.drew
            varied = varied or not same(main.out, other.out)
            seconds = min(seconds, other.seconds)
        drew = drew or main.drew
        times.append(seconds)
        outs.append(main.out)
    declared = traits_of(op.fn).random
    uses_rng = drew or declared is True
    deterministic = not uses_rng and not varied
    if drew:
        why = "drew from the RNG on the probe samples"
    elif declared is True:
        why = "declared random=True"
    elif varied:
        why = "output changed with the sample key or between calls"
    else:
        why = f"no RNG draw and the same output under other keys on {len(times)} probe samples"
    live = [o for o, v in zip(outs, inputs) if v is not GONE]
    size_of = live if op.kind == "map" else [v for v in inputs if v is not GONE]
    facts = OpFacts(
        name=op.name,
        kind=op.kind,
        uses_rng=uses_rng,
        deterministic=deterministic,
        cost_s=statistics.median(times) if times else 0.0,
        out_bytes=statistics.fmean(nbytes(v) for v in size_of) if size_of else 0.0,
        why=why,
    )
    if op.kind == "filter":
        nxt = [v if v is GONE or o else GONE for v, o in zip(inputs, outs)]
        return facts, nxt
    return facts, outs


def probe_indices(length: int, samples: int) -> list[int]:
    """``samples`` source indices spread evenly over the source."""
    if samples < 1:
        raise ValueError(f"probe samples={samples} should be >= 1")
    return sorted({int(i) for i in np.linspace(0, length - 1, min(samples, length))})


def probe(chain: Chain, seed: int = 0, samples: int = 4) -> Probe:
    """Probes every per-sample operator of ``chain`` on ``samples`` real source items.

    Args:
        chain: The pipeline in working form.
        seed: Seed of the sample keys.
        samples: Number of source items to probe (spread over the source).
    """
    indices = probe_indices(len(chain.source), samples)
    reads: list[float] = []
    first: list[Any] = []
    read_drew = False
    for idx in indices:
        with seeded(seed, 0, idx):
            before = Snapshot.take()
            t0 = time.perf_counter()
            first.append(chain.source.get(idx))
            reads.append(time.perf_counter() - t0)
            read_drew = read_drew or before.drew_since()
    values = [first]
    ops: list[OpFacts] = []
    for op in chain.sample_ops:
        facts, nxt = _facts(op, values[-1], indices, seed)
        ops.append(facts)
        values.append(nxt)
    return Probe(seed, indices, statistics.median(reads), values, ops, read_drew)


def run_ops(ops: list[Op], value: Any, seed: int, index: int) -> Any:
    """Runs ``ops`` on one value as the executor would (one key for the whole chain); GONE if filtered."""
    return trace_ops(ops, value, seed, index)[-1]


def trace_ops(ops: list[Op], value: Any, seed: int, index: int) -> list[Any]:
    """Like :func:`run_ops`, but every intermediate value: ``out[k]`` is the value after ``ops[:k]``.

    One run of the chain gives the output of each of its prefixes (under one key, as the executor
    runs them), so a strategy comparing prefixes does not run the chain once per prefix.
    """
    out = [value]
    with seeded(seed, 0, index):
        for op in ops:
            if value is GONE:
                out.append(GONE)
                continue
            # A copy: an op that writes into its input must not change the value kept for the prefix.
            got = op.fn(fresh_copy(value))  # type: ignore[misc]
            if op.kind == "filter":
                value = value if got else GONE
            else:
                value = got
            out.append(value)
    return out


def shifted(p: Probe, k: int, read_s: float, lead: OpFacts | None = None, held: Any = None) -> Probe:
    """The probe of the chain whose first ``k`` ops now run inside the source (autocache's rewrite).

    Equal to probing the new chain afresh: its source returns, for each probe sample, what the
    first ``k`` ops made of it (they read no RNG, so one key or another gives the same bytes), and
    every later op sees the same input under the same key; only the timings would be re-measured.

    Args:
        p: The probe of the chain before the rewrite.
        k: Ops moved into the source.
        read_s: Seconds per sample to read the new source (the cache's read-back time).
        lead: Facts of an op the rewrite put first (autocache's filter of samples its prefix
            dropped), or None.
        held: With ``lead``: what the new source returns for a sample the prefix dropped.
    """
    if lead is None:
        return Probe(p.seed, p.indices, read_s, p.values[k:], p.ops[k:], p.read_drew)
    source = [held if v is GONE else v for v in p.values[k]]
    return Probe(p.seed, p.indices, read_s, [source, *p.values[k:]], [lead, *p.ops[k:]], p.read_drew)
