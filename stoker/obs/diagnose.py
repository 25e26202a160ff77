"""Is the trainer waiting on data, why, and what would help: a pure function of ``stats()`` records.

Called by ``Loader.diagnose()``, at the end of ``stoker demo`` and by ``stoker top`` (on the
difference of two scrapes). In the spirit of Plumber (MLSys'22), every advice carries a
predicted throughput computed from measured rates only:

* trainer demand ``1 / t`` samples/s, ``t`` = trainer seconds per sample between ``next()`` calls;
* worker rate ``r`` samples/s per worker = samples run / worker-busy seconds;
* worker utilisation ``u`` = worker-busy seconds / worker-seconds held.

The classes: **trainer** when it waits less than :data:`DATA_BOUND` of its time; **data** when
it waits and the workers are busy (``u >= BUSY``) or their compute explains the wait (wait per
sample <= ``COMPUTE_SLACK / (n r)``); **transport** when it waits far longer than the workers
compute while they idle: results are made but not delivered in time (bytes through shared memory
or the object store, pickling, round trips).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

DATA_BOUND = 0.10  # the trainer waits more than this share of its time: data-bound
BUSY = 0.70  # worker utilisation above which workers are the limit rather than delivery
MAX_GROWTH = 4  # most workers advised, as a multiple of today's
COMPUTE_SLACK = 2.0  # a wait per sample up to this many times the workers' compute per sample is theirs
MIN_GAIN = 1.05  # advice predicted to gain less than 5 % is not worth a line
UNMOVABLE = ("read",)  # stages that cannot cross the cut (reading the source)
COUNTERS = ("samples", "items", "wait_s", "step_s", "wall_s", "stage_samples", "worker_busy_s", "worker_s")


@dataclass(frozen=True)
class Advice:
    """One thing that would help, with its predicted effect.

    Attributes:
        action: ``add_local_workers`` | ``add_remote_workers`` | ``raise_budget`` |
            ``move_operator`` | ``larger_prefetch`` | ``fewer_workers``.
        text: One sentence for a person.
        predicted_samples_per_s: Throughput predicted after the change (samples/s).
        predicted_speedup: That throughput over today's (1.0: same speed, e.g. fewer workers).
    """

    action: str
    text: str
    predicted_samples_per_s: float
    predicted_speedup: float


@dataclass(frozen=True)
class Diagnosis:
    """What ``diagnose`` found.

    Attributes:
        bottleneck: ``"data"`` | ``"trainer"`` | ``"transport"`` (``"unknown"`` before any sample).
        dominant_stage: The stage with most worker time, or None.
        dominant_share: Its share of the workers' stage time (0..1).
        wait_fraction: Share of trainer time spent waiting in ``next()``.
        samples_per_s: Delivered samples per second of trainer time.
        demand_samples_per_s: What the trainer could take if it never waited.
        worker_samples_per_s: What one worker makes per busy second.
        worker_utilisation: Busy share of the worker-seconds held (0..1).
        workers: Workers running.
        advice: What would help, best first; empty when nothing would.
        summary: One line for a person.
    """

    bottleneck: str
    dominant_stage: str | None
    dominant_share: float
    wait_fraction: float
    samples_per_s: float
    demand_samples_per_s: float
    worker_samples_per_s: float
    worker_utilisation: float
    workers: int
    advice: list[Advice] = field(default_factory=list)
    summary: str = ""

    def __str__(self) -> str:
        lines = [f"diagnosis: {self.summary}"]
        lines += [f"  - {a.text} (predicted {a.predicted_speedup:.2f}x)" for a in self.advice]
        if self.bottleneck == "trainer" and not any(a.predicted_speedup > 1 for a in self.advice):
            lines.append("  - nothing on the data side would make this job faster: speed up the training step")
        elif not self.advice and self.bottleneck != "unknown":
            lines.append("  - nothing stoker can change is predicted to help (no measured rate leaves room)")
        return "\n".join(lines)


def window(now: dict[str, Any], since: dict[str, Any] | None) -> dict[str, Any]:
    """``now`` with its counters taken as differences from ``since`` (a window), gauges as in ``now``.

    A window that holds the first item leaves out that item's wait: it is the workers starting
    up, which says nothing about the steady state the advice is for.
    """
    out = dict(now)
    if since is not None:
        for key in COUNTERS:
            out[key] = now.get(key, 0) - since.get(key, 0)
        before = since.get("stage_s", {})
        out["stage_s"] = {k: v - before.get(k, 0.0) for k, v in now.get("stage_s", {}).items()}
    if since is None or since.get("items", 0) == 0:
        out["wait_s"] = max(0.0, out.get("wait_s", 0.0) - now.get("first_wait_s", 0.0))
    return out


def _speedup(predicted: float, current: float) -> float:
    return predicted / current if current > 0 else math.inf


def _workers_advice(s: dict[str, Any], demand: float, rate: float, current: float) -> list[Advice]:
    n = int(s.get("workers", 0))  # 0: in-process (workers=0), every worker is an addition
    if rate <= 0:
        return []
    # A trainer that barely computes would take any number; advise at most MAX_GROWTH x the workers.
    need = min(math.ceil(demand / rate) if math.isfinite(demand) else n + 1, MAX_GROWTH * max(n, 1))
    extra = need - n
    if extra <= 0:
        return []
    free = s.get("cpu_free")
    local = extra if free is None else min(extra, math.floor(free))
    budget = int(s.get("max_workers", n))
    out: list[Advice] = []
    if local > 0:
        sps = min(demand, (n + local) * rate)
        if n + local > budget:
            out.append(
                Advice(
                    "raise_budget",
                    f"raise the worker budget from {budget} to {n + local} (max_workers, or the cluster's CPU share): "
                    f"{free if free is not None else 'some'} cores are idle -> {sps:.0f} samples/s",
                    sps,
                    _speedup(sps, current),
                )
            )
        else:
            idle = f"{free:.1f} cores idle" if free is not None else "cores idle"
            out.append(
                Advice(
                    "add_local_workers",
                    f"{local} more local worker(s) ({idle}) -> {sps:.0f} samples/s",
                    sps,
                    _speedup(sps, current),
                )
            )
    remote = extra - max(local, 0)
    if remote > 0:
        sps = min(demand, need * rate)
        out.append(
            Advice(
                "add_remote_workers",
                f"{remote} remote worker(s) on other machines (backend='ray'), beyond what this machine's "
                f"idle cores hold -> {sps:.0f} samples/s",
                sps,
                _speedup(sps, current),
            )
        )
    return out


def _move_advice(
    stage: str | None, stage_cost: float, cost: float, step: float, n: int, current: float
) -> list[Advice]:
    """Moving the dominant operator to the trainer's side: workers lose its cost, the trainer gains it."""
    if stage is None or stage in UNMOVABLE or n <= 0 or cost <= stage_cost:
        return []
    sps = min(1.0 / (step + stage_cost), n / (cost - stage_cost))
    if _speedup(sps, current) < MIN_GAIN:
        return []
    return [
        Advice(
            "move_operator",
            f"move {stage!r} across the cut to the trainer ({1000 * stage_cost:.2f} ms/sample on its CPU, "
            f"less on an accelerator) -> {sps:.0f} samples/s",
            sps,
            _speedup(sps, current),
        )
    ]


def diagnose(stats: dict[str, Any], since: dict[str, Any] | None = None) -> Diagnosis:
    """Classifies the bottleneck and predicts what would help, from ``stats()`` record(s).

    Args:
        stats: A ``Loader.stats()`` dict (or one read back from ``/metrics``).
        since: An earlier record of the same loader: judge only the window between the two
            (leaves out start-up, and follows a job whose load changes).

    Returns:
        A :class:`Diagnosis`; ``bottleneck`` is ``"unknown"`` until samples were delivered.
    """
    s = window(stats, since)
    samples, wait, step = s.get("samples", 0), s.get("wait_s", 0.0), s.get("step_s", 0.0)
    n = int(s.get("workers", 0))
    stage_s = {k: v for k, v in s.get("stage_s", {}).items() if v > 0}
    total_stage = sum(stage_s.values())
    dominant = max(stage_s, key=lambda k: stage_s[k]) if stage_s else None
    share = stage_s[dominant] / total_stage if dominant else 0.0
    busy_s, held_s, made = s.get("worker_busy_s", 0.0), s.get("worker_s", 0.0), s.get("stage_samples", 0)
    rate = made / busy_s if busy_s > 0 else 0.0
    util = min(1.0, busy_s / held_s) if held_s > 0 else (1.0 if n == 0 else 0.0)
    if samples <= 0 or wait + step <= 0:
        return Diagnosis("unknown", dominant, share, 0.0, 0.0, 0.0, rate, util, n, [], "no samples delivered yet")
    wait_frac = wait / (wait + step)
    current = samples / (wait + step)
    step_per = step / samples
    demand = 1.0 / step_per if step_per > 0 else math.inf
    where = f"; {dominant!r} is {share:.0%} of worker time" if dominant else ""
    if wait_frac < DATA_BOUND:
        bottleneck = "trainer"
        summary = f"trainer-bound: the trainer waits {wait_frac:.0%} of its time for data{where}"
        advice = []
        if rate > 0 and n > 1 and math.isfinite(demand):
            enough = math.ceil(1.2 * demand / rate)  # 20 % headroom over the measured demand
            if enough < n:
                advice.append(
                    Advice(
                        "fewer_workers",
                        f"{enough} worker(s) would keep up (frees {n - enough} core(s), same speed)",
                        current,
                        1.0,
                    )
                )
        return Diagnosis(bottleneck, dominant, share, wait_frac, current, demand, rate, util, n, advice, summary)
    # A wait per sample that the workers' compute explains (c/n per sample, with slack) is theirs,
    # however idle they look over a window where the trainer also paused (bursty consumption);
    # a wait far beyond it is spent moving results.
    explained = COMPUTE_SLACK * busy_s / made / n if made > 0 and n > 0 else math.inf
    if n == 0 or util >= BUSY or wait / samples <= explained:
        bottleneck = "data"
        summary = f"data-bound: the trainer waits {wait_frac:.0%} of its time; workers are {util:.0%} busy{where}"
        advice = _workers_advice(s, demand, rate, current)
        if made > 0 and dominant is not None:
            cost = busy_s / made
            advice += _move_advice(dominant, stage_s[dominant] / made, cost, step_per, max(n, 1), current)
    else:
        bottleneck = "transport"
        summary = (
            f"transport-bound: the trainer waits {wait_frac:.0%} of its time while workers are only "
            f"{util:.0%} busy: results are made but not delivered in time{where}"
        )
        advice = []
        # The transfer's cost shows only as the trainer's wait per sample; neither its split between
        # the two ends nor its bytes are measured, so both advices model halving that wait.
        ceiling = min(demand, n * rate)
        halved = min(ceiling, 1.0 / (step_per + wait / samples / 2))
        prefetch = int(s.get("prefetch", 0) or 0)
        advice.append(
            Advice(
                "larger_prefetch",
                f"a larger prefetch ({prefetch} -> {2 * max(prefetch, 1)} splits per worker) so that transfers overlap "
                f"work: ~{halved:.0f} samples/s if half of each transfer's wait is hidden (modelled)",
                halved,
                _speedup(halved, current),
            )
        )
        advice.append(
            Advice(
                "move_operator",
                "move an operator that shrinks samples (crop, resize, uint8 before float) to the data side, or one "
                f"that enlarges them to the trainer: ~{halved:.0f} samples/s if the bytes crossing halve (modelled)",
                halved,
                _speedup(halved, current),
            )
        )
    advice = sorted((a for a in advice if a.predicted_speedup >= MIN_GAIN), key=lambda a: -a.predicted_speedup)
    return Diagnosis(bottleneck, dominant, share, wait_frac, current, demand, rate, util, n, advice, summary)
