"""Fusion/vectorisation: trailing per-sample operators that act element-wise run once per batch.

A ``map`` that acts element by element (or per sample along the first axis) gives, on a stacked
batch, the stack of its per-sample results; running it once after ``default_collate`` replaces
``batch_size`` small calls (Python and dispatch overhead each) by one vectorised call. Exact
when the operators read no RNG (they now run under the batch's key, not each sample's) and the
batched result is bit-identical to the stacked per-sample results; IEEE arithmetic is rounded
per element, so element-wise float operations keep that. The optimiser checks it bit for bit on
the probe samples, for the longest RNG-free suffix of ``map``s (only ``default_collate``, which
stacks, qualifies; a ``filter`` ends the suffix).

The gain compares measured per-sample cost x batch size with the measured batched cost, plus a
modelled cost when the new output is big: the worker stacks per-sample outputs straight into a
reused shared-memory file, but an output made after collate is copied into a fresh one (about
1 ns per byte of page faults and copying on the machines measured, see
:mod:`stoker.data.transport`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from stoker.data.pipeline import Op
from stoker.data.transport import ARENA_MIN_BYTES
from stoker.optimize.base import Context, Rewrite
from stoker.optimize.probe import GONE
from stoker.optimize.values import nbytes, same

NAME = "fusion"
FRESH_FILE_S_PER_BYTE = 1.05e-9  # ~20 ms for a fresh 19 MB tmpfs file (stoker.data.transport)


class Batched:
    """Runs a fused run of per-sample maps on a whole batch (the op after ``batch``)."""

    def __init__(self, ops: Sequence[Op]) -> None:
        self.ops = tuple(ops)

    def __call__(self, batch: Any) -> Any:
        for op in self.ops:
            batch = op.fn(batch)  # type: ignore[misc]
        return batch


def _collate(ctx: Context) -> Callable[[list[Any]], Any]:
    fn = ctx.chain.batch.fn if ctx.chain.batch is not None else None
    if fn is None:
        raise ValueError("fusion needs a pipeline with batch()")
    return fn


def _batched_ok(ctx: Context, start: int, inputs: list[Any], outputs: list[Any]) -> bool:
    collate = _collate(ctx)
    try:
        got = Batched(ctx.chain.sample_ops[start:])(collate(inputs))
        want = collate(outputs)
    except Exception:  # not batchable, or outputs that do not stack
        return False
    return same(got, want)


def _batches_on_probe_values(ctx: Context, start: int) -> bool:
    """Whether some suffix from ``start`` on batches right on the probe's own values: a cheap first look.

    Every op from ``start`` on is deterministic (no RNG, the same output under other keys), so the
    probe's values already chain through them (``values[k + 1] = op_k(values[k])``). A suffix that
    fails here is not fused, and the optimiser skips running the whole chain again on the probe
    samples under one key (5 ms on the suite's image pipeline, whose last op takes a PIL image that
    ``default_collate`` cannot stack). A suffix that passes is still checked on that run.
    """
    values = ctx.probe.values
    live = [j for j, v in enumerate(values[-1]) if v is not GONE]
    if len(live) < 2:
        return False
    outputs = [values[-1][j] for j in live]
    return any(_batched_ok(ctx, s, [values[s][j] for j in live], outputs) for s in range(start, len(values) - 1))


def _timed(fn: Any, arg: Any, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(arg)
        best = min(best, time.perf_counter() - t0)
    return best


def apply(ctx: Context) -> list[Rewrite]:
    chain = ctx.chain
    if not chain.default_collate:
        return [Rewrite(NAME, False, True, "fuse nothing", "batches are not collated by default_collate")]
    facts = ctx.probe.ops
    start = len(chain.sample_ops)
    while start > 0 and chain.sample_ops[start - 1].kind == "map" and facts[start - 1].deterministic:
        start -= 1
    if start == len(chain.sample_ops):
        return [Rewrite(NAME, False, True, "fuse nothing", "the last per-sample op reads the RNG or is a filter")]
    if not _batches_on_probe_values(ctx, start):
        return [Rewrite(NAME, False, True, "fuse nothing", "no trailing map gives the same result on a batch")]
    traces = ctx.traces(chain.sample_ops)  # one run gives every prefix's output
    full = [t[-1] for t in traces]
    head = [t[start] for t in traces]
    live = [j for j, v in enumerate(full) if v is not GONE]
    while start < len(chain.sample_ops):
        if len(live) >= 2 and _batched_ok(ctx, start, [head[j] for j in live], [full[j] for j in live]):
            break
        start += 1
        head = [t[start] for t in traces]
    if start == len(chain.sample_ops) or len(live) < 2:
        return [Rewrite(NAME, False, True, "fuse nothing", "no trailing map gives the same result on a batch")]
    ops = chain.sample_ops[start:]
    size = int(chain.batch.args["size"])  # type: ignore[union-attr]
    per_sample = sum(f.cost_s for f in facts[start:])
    reps = [head[live[i % len(live)]] for i in range(size)]
    batch_in = _collate(ctx)(reps)
    batched = _timed(Batched(ops), batch_in)
    out_bytes = sum(f.out_bytes for f in facts[-1:]) * size
    penalty = FRESH_FILE_S_PER_BYTE * out_bytes if out_bytes >= ARENA_MIN_BYTES else 0.0
    names = [op.name for op in ops]
    figures = (
        f"{size} x {per_sample * 1e3:.3f} ms per sample vs {batched * 1e3:.3f} ms per batch "
        f"+ {penalty * 1e3:.2f} ms modelled copy of {nbytes(full[live[0]]) * size / 1e6:.1f} MB"
    )
    saved = size * per_sample - batched - penalty
    if saved < ctx.options.min_gain * size * per_sample:
        return [Rewrite(NAME, False, True, f"keep {names} per sample", f"not cheaper: {figures}")]
    chain.sample_ops = chain.sample_ops[:start]
    chain.batch_ops = [Op("map", Batched(ops), "fused(" + "+".join(names) + ")"), *chain.batch_ops]
    ctx.changed()
    return [
        Rewrite(
            NAME,
            True,
            True,
            f"{names} run once per batch after collate",
            f"no RNG read, batch result bit-identical to stacked samples on {len(live)} probe samples; {figures}",
            gain_s=saved / size,
            modelled=penalty > 0,
        )
    ]
