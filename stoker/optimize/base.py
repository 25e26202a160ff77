"""The shape every rewrite strategy has, and the records they report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stoker.optimize.chain import Chain
from stoker.optimize.probe import GONE, Probe, probe, run_ops, trace_ops
from stoker.optimize.values import same


@dataclass
class Rewrite:
    """One decision of one strategy, applied or not.

    Attributes:
        strategy: The strategy's registry name.
        applied: Whether the pipeline was rewritten.
        exact: The rewrite keeps batches bit-identical (False: opted-in approximation).
        what: What changed (or would have).
        why: The reason, with the measured figures it rests on.
        gain_s: Measured (or, where ``modelled``, estimated) seconds saved per sample, in
            steady state; 0 when not applied.
        modelled: Part of ``gain_s`` is a model, not a measurement.
        detail: More of the reason, measured only when the report is read (:meth:`line`): a
            report-only finding that would otherwise cost every ``Loader(optimize=True)`` its
            measurement before the first batch. Called at most once.
    """

    strategy: str
    applied: bool
    exact: bool
    what: str
    why: str
    gain_s: float = 0.0
    modelled: bool = False
    detail: Callable[[], str] | None = field(default=None, repr=False, compare=False)

    def line(self) -> str:
        if self.detail is not None:  # measured now, once
            self.why, self.detail = f"{self.why}{self.detail()}", None
        state = "applied" if self.applied else "skipped"
        kind = "exact" if self.exact else "APPROXIMATE"
        gain = ""
        if self.applied:
            gain = f"; gain {self.gain_s * 1e3:.3f} ms/sample" + (" (partly modelled)" if self.modelled else "")
        return f"[{state}] {self.strategy} ({kind}): {self.what} -- {self.why}{gain}"


@dataclass
class Options:
    """What the user allows the optimiser to do.

    Attributes:
        seed: Seed of the sample keys used by probes.
        samples: Source items to probe.
        approximate: Allow rewrites that change values (reported as approximate).
        cache_dir: Where autocache puts its files (None: a fresh folder in shared memory, or
            on local disk when that has more room); a given folder is kept for resumes.
        cache_bytes: Upper bound of the cache size, bytes (None: half of what is free).
        min_gain: A rewrite must save at least this fraction of the time it replaces.
        cache_version: A name for the data set's content, for sources whose bytes cannot be
            hashed (a custom ``Dataset``): a kept ``cache_dir`` is reused only under the same name.
        content_hash: Key a kept cache of files by their bytes too, not only size and mtime.
    """

    seed: int = 0
    samples: int = 4
    approximate: bool = False
    cache_dir: str | None = None
    cache_bytes: int | None = None
    min_gain: float = 0.2
    cache_version: str | None = None
    content_hash: bool = False


@dataclass
class Context:
    """What a strategy sees: the chain being rewritten, the options and a probe of the chain."""

    chain: Chain
    options: Options
    owned: list[Any] = field(default_factory=list)  # resources to release with the result (caches)
    _probe: Probe | None = None

    @property
    def probe(self) -> Probe:
        """The probe of the current chain (re-run after each applied rewrite)."""
        if self._probe is None:
            self._probe = probe(self.chain, self.options.seed, self.options.samples)
        return self._probe

    def changed(self, probe: Probe | None = None) -> None:
        """Call after editing ``chain``: the next :attr:`probe` looks at the new chain.

        Args:
            probe: The new chain's probe where the rewrite can derive it from the old one
                (:func:`stoker.optimize.probe.shifted`) instead of running the ops again.
        """
        self._probe = probe

    def traces(self, ops: list[Any]) -> list[list[Any]]:
        """Per probe sample, the value after each prefix of ``ops`` (``[j][k]``: after ``ops[:k]``), as
        the executor runs them; one run of ``ops`` per sample."""
        p = self.probe
        return [trace_ops(ops, v, p.seed, i) for v, i in zip(p.values[0], p.indices)]

    def outputs(self, ops: list[Any]) -> list[Any]:
        """Per-sample outputs of ``ops`` run from the probe's source items, as the executor runs them."""
        p = self.probe
        return [run_ops(ops, v, p.seed, i) for v, i in zip(p.values[0], p.indices)]

    def identical(self, ops_a: list[Any], ops_b: list[Any]) -> bool:
        """Whether two op lists give bit-identical outputs (and drops) on every probe sample."""
        for a, b in zip(self.outputs(ops_a), self.outputs(ops_b)):
            if (a is GONE) != (b is GONE) or (a is not GONE and not same(a, b)):
                return False
        return True


Strategy = Callable[[Context], list[Rewrite]]
"""A rewrite strategy: reads the context, edits ``ctx.chain`` when it applies, reports decisions."""
