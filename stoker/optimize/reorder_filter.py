"""Reordering: a cheap ``filter`` moves before expensive ``map``s it does not depend on.

Exact when the filter reads no RNG and gives the same answer on the value before the maps it
jumps as after them, for every sample: then the same samples are kept, and the maps of a kept
sample see the same inputs and draw the same random numbers (the filter drew none). The
optimiser checks that answer on the probe samples and the whole chain's output bit for bit; a
filter marked ``reads_source`` states it for all samples. Maps that a filter skips no longer
run on dropped samples, so an exception a map would have raised on a dropped sample is gone.

Called by :func:`stoker.optimize.optimize` first, so later rewrites (autocache) see the
shorter work.
"""

from __future__ import annotations

from stoker.optimize.base import Context, Rewrite
from stoker.optimize.marks import traits_of
from stoker.optimize.probe import GONE

NAME = "reorder_filter"


def _agrees(ctx: Context, k: int, q: int) -> bool:
    """Whether filter ``k`` answers the same on op ``q``'s input as on its own, on every probe sample."""
    p = ctx.probe
    fn = ctx.chain.sample_ops[k].fn
    prefix_q = ctx.chain.sample_ops[:q]
    prefix_k = ctx.chain.sample_ops[:k]
    for before, at in zip(ctx.outputs(prefix_q), ctx.outputs(prefix_k)):
        if before is GONE or at is GONE:
            continue
        try:
            if bool(fn(before)) != bool(fn(at)):  # type: ignore[misc]
                return False
        except Exception:  # the filter cannot read the earlier value (a field the maps add)
            return False
    return bool(p.indices)


def _earliest(ctx: Context, k: int) -> int:
    """The earliest position filter ``k`` may move to (``k`` itself when none)."""
    ops = ctx.chain.sample_ops
    q = k
    while q > 0 and ops[q - 1].kind == "map":
        q -= 1
    while q < k and not _agrees(ctx, k, q):
        q += 1
    return q


def apply(ctx: Context) -> list[Rewrite]:
    out: list[Rewrite] = []
    k = 0
    while k < len(ctx.chain.sample_ops):
        op = ctx.chain.sample_ops[k]
        if op.kind != "filter" or k == 0 or ctx.chain.sample_ops[k - 1].kind != "map":
            k += 1
            continue
        facts = ctx.probe.ops
        if facts[k].uses_rng or not facts[k].deterministic:
            out.append(Rewrite(NAME, False, True, f"keep filter {op.name!r} in place", f"it {facts[k].why}"))
            k += 1
            continue
        q = _earliest(ctx, k)
        if q == k:
            out.append(
                Rewrite(NAME, False, True, f"keep filter {op.name!r} in place", "it depends on the map before it")
            )
            k += 1
            continue
        jumped = facts[q:k]
        cost = sum(f.cost_s for f in jumped)
        if facts[k].cost_s >= cost:
            out.append(
                Rewrite(
                    NAME,
                    False,
                    True,
                    f"keep filter {op.name!r} in place",
                    f"it costs {facts[k].cost_s * 1e3:.3f} ms, no less than the maps it could jump",
                )
            )
            k += 1
            continue
        ops = list(ctx.chain.sample_ops)
        moved = [*ops[:q], op, *ops[q:k], *ops[k + 1 :]]
        if not ctx.identical(ops, moved):
            out.append(Rewrite(NAME, False, True, f"keep filter {op.name!r} in place", "the moved chain differed"))
            k += 1
            continue
        alive = ctx.probe.kept(k)
        dropped = sum(1 for j in alive if ctx.probe.values[k + 1][j] is GONE)
        frac = dropped / len(alive) if alive else 0.0
        declared = " (declared reads_source)" if traits_of(op.fn).reads_source else ""
        ctx.chain.sample_ops = moved
        ctx.changed()
        out.append(
            Rewrite(
                NAME,
                True,
                True,
                f"filter {op.name!r} moved before {[f.name for f in jumped]}",
                f"it reads no RNG and answers the same before those maps on every probe sample{declared}; "
                f"it dropped {dropped}/{len(alive)} probe samples, each saving {cost * 1e3:.3f} ms of maps",
                gain_s=frac * cost,
            )
        )
        k += 1
    return out
