"""Reordering: a downscale moves before the per-pixel colour operators in front of it.

A colour operator marked ``pointwise`` maps every pixel through a function of that pixel alone;
a geometry operator marked ``selects_pixels`` (crop, flip, nearest-neighbour downscale) outputs
only input pixels. The two commute exactly, so the colour work runs on the smaller image with
bit-identical results, provided they do not both read the RNG (swapping two RNG users would
swap their draws). The optimiser still checks the moved chain bit for bit on the probe samples.

A downscale marked ``resamples`` (bilinear, area) interpolates, so it commutes only
approximately with a non-linear colour map; it moves only under ``approximate=True`` and the
report gives the largest difference it measured.

Called by :func:`stoker.optimize.optimize` before autocache: a deterministic downscale moved to
the front joins the cached prefix.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from stoker.optimize.base import Context, Rewrite
from stoker.optimize.marks import traits_of
from stoker.optimize.probe import GONE

NAME = "reorder_downscale"


def _max_diff(a: Any, b: Any) -> float:
    """Largest absolute difference between two values (inf when shapes or structure differ)."""
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)) and len(a) == len(b):
        return max((_max_diff(x, y) for x, y in zip(a, b)), default=0.0)
    if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
        return max((_max_diff(a[k], b[k]) for k in a), default=0.0)
    try:
        x = torch.as_tensor(np.asarray(a), dtype=torch.float64)
        y = torch.as_tensor(np.asarray(b), dtype=torch.float64)
    except Exception:
        return 0.0 if a == b else float("inf")
    if x.shape != y.shape:
        return float("inf")
    return float((x - y).abs().max()) if x.numel() else 0.0


def _candidate(ctx: Context, k: int) -> tuple[int, bool] | None:
    """(first colour op to jump, exact) for a downscale at ``k``, or None."""
    ops = ctx.chain.sample_ops
    t = traits_of(ops[k].fn)
    exact = bool(t.selects_pixels)
    if not exact and not (t.resamples and ctx.options.approximate):
        return None
    facts = ctx.probe.ops
    q = k
    while q > 0 and ops[q - 1].kind == "map" and traits_of(ops[q - 1].fn).pointwise:
        if facts[k].uses_rng and facts[q - 1].uses_rng:
            break  # two RNG users never swap: their draws would swap too
        q -= 1
    return (q, exact) if q < k else None


def apply(ctx: Context) -> list[Rewrite]:
    out: list[Rewrite] = []
    for k in range(len(ctx.chain.sample_ops)):
        ops = list(ctx.chain.sample_ops)
        op = ops[k]
        t = traits_of(op.fn)
        if not (t.selects_pixels or t.resamples):
            continue
        found = _candidate(ctx, k)
        if found is None:
            why = (
                "it resamples; pass approximate=True to move it"
                if t.resamples and not ctx.options.approximate
                else "no per-pixel colour op it may jump precedes it"
            )
            out.append(Rewrite(NAME, False, bool(t.selects_pixels), f"keep {op.name!r} in place", why))
            continue
        q, exact = found
        moved = [*ops[:q], op, *ops[q:k], *ops[k + 1 :]]
        before_cost = sum(f.cost_s for f in ctx.probe.ops[q:k])
        if exact and not ctx.identical(ops, moved):
            out.append(Rewrite(NAME, False, True, f"keep {op.name!r} in place", "the moved chain differed"))
            continue
        diff = 0.0
        if not exact:
            pairs = zip(ctx.outputs(ops), ctx.outputs(moved))
            diff = max((_max_diff(a, b) for a, b in pairs if a is not GONE and b is not GONE), default=0.0)
        jumped = [o.name for o in ops[q:k]]
        ctx.chain.sample_ops = moved
        ctx.changed()
        after_cost = sum(f.cost_s for f in ctx.probe.ops[q + 1 : k + 1])
        why = (
            "it only selects pixels and they map each pixel alone; identical on every probe sample"
            if exact
            else f"it interpolates: largest difference {diff:.4g} on the probe samples (approximate=True)"
        )
        out.append(
            Rewrite(
                NAME,
                True,
                exact,
                f"{op.name!r} moved before {jumped}",
                f"{why}; colour ops {before_cost * 1e3:.3f} -> {after_cost * 1e3:.3f} ms/sample",
                gain_s=max(0.0, before_cost - after_cost),
            )
        )
    if not out:
        out.append(Rewrite(NAME, False, True, "move nothing", "no op is marked selects_pixels or resamples"))
    return out
