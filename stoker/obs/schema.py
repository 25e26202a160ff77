"""The one table of Prometheus metric <-> ``Loader.stats()`` key, read by both ends.

The exporter writes each row from one ``stats()`` snapshot; ``stoker top``, the dashboard and
the tests read a scrape back into a stats-shaped record with the same rows, so the two
directions cannot drift apart. ``docs/observability.md`` prints this table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

PREFIX = "stoker_"
JOB_LABELS = ("job", "rank", "backend")  # on every series
STAGE_LABEL = "stage"


@dataclass(frozen=True)
class MetricSpec:
    """One exported series.

    Attributes:
        metric: Family name without the ``_total`` suffix Prometheus adds to counters.
        key: The ``stats()`` key it equals.
        kind: ``"counter"`` (only grows) or ``"gauge"``.
        help: One line, with the unit.
        per_stage: The value is a ``{stage: float}`` dict, one series per stage label.
    """

    metric: str
    key: str
    kind: str
    help: str
    per_stage: bool = False

    @property
    def sample_name(self) -> str:
        """The name a scrape's sample carries (counters end in ``_total``)."""
        return self.metric + "_total" if self.kind == "counter" else self.metric


def _c(metric: str, key: str, help: str, per_stage: bool = False) -> MetricSpec:
    return MetricSpec(PREFIX + metric, key, "counter", help, per_stage)


def _g(metric: str, key: str, help: str, per_stage: bool = False) -> MetricSpec:
    return MetricSpec(PREFIX + metric, key, "gauge", help, per_stage)


METRICS: tuple[MetricSpec, ...] = (
    _c("samples", "samples", "Samples delivered to the trainer."),
    _c("batches", "items", "Items (batches, or samples when unbatched) delivered to the trainer."),
    _c("data_wait_seconds", "wait_s", "Seconds the trainer waited inside next() for data."),
    _c("train_seconds", "step_s", "Seconds the trainer spent between next() calls (training)."),
    _c("samples_skipped", "skipped", "Samples dropped by on_error='skip'."),
    _c("samples_filtered", "filtered", "Samples dropped by a filter operator."),
    _c("errors", "errors", "Failed splits raised to the trainer (on_error='raise')."),
    _c("worker_restarts", "workers_lost", "Workers lost (died or unreachable) and replaced."),
    _c("splits_reissued", "splits_reissued", "Splits handed out again after a worker was lost."),
    _c("duplicates_dropped", "duplicates_dropped", "Results received twice and dropped by the ledger."),
    _c("stage_seconds", "stage_s", "Worker seconds spent in each pipeline stage.", per_stage=True),
    _c("stage_samples", "stage_samples", "Samples the workers ran (the denominator of per-stage costs)."),
    _c("worker_busy_seconds", "worker_busy_s", "Seconds workers spent running splits, all workers together."),
    _c("worker_seconds", "worker_s", "Worker-seconds the loader held workers for (running or idle)."),
    _g("stage_seconds_per_sample", "stage_s_per_sample", "Worker seconds per sample in each stage.", per_stage=True),
    _g("workers", "workers", "Workers running (or being started)."),
    _g("workers_budget", "max_workers", "Most workers allowed (autoscaler ceiling, the cluster's CPU budget)."),
    _g("workers_min", "min_workers", "Fewest workers the autoscaler keeps."),
    _g("queue_depth", "queue_depth", "Finished splits waiting in the trainer for their turn."),
    _g("prefetch", "prefetch", "Splits in flight per worker."),
    _g("cpu_free", "cpu_free", "Cores idle on the machine of the local workers (average since start; NaN: remote)."),
    _g("samples_per_second", "samples_per_s", "Samples delivered per second of trainer time."),
    _g("data_wait_fraction", "wait_fraction", "Share of trainer time spent waiting for data (0..1)."),
    _g("first_wait_seconds", "first_wait_s", "Seconds the trainer waited for its first item (worker start-up)."),
    _g("wall_seconds", "wall_s", "Seconds since the loader was built."),
    _g("epoch", "epoch", "Epoch being read (-1 before the first)."),
)

BY_SAMPLE_NAME: dict[str, MetricSpec] = {m.sample_name: m for m in METRICS}
# stats() keys that hold counts: read back as int so a scrape compares equal to stats().
INT_KEYS = frozenset(
    (
        "samples",
        "items",
        "skipped",
        "filtered",
        "errors",
        "workers_lost",
        "stage_samples",
        "splits_reissued",
        "duplicates_dropped",
        "workers",
        "max_workers",
        "min_workers",
        "queue_depth",
        "prefetch",
        "epoch",
    )
)


@dataclass
class JobRecord:
    """What one scrape says about one job (rank): a stats-shaped dict and its labels."""

    job: str
    rank: str
    backend: str
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return (self.job, self.rank)


def records_from_families(families: Iterable[Any]) -> list[JobRecord]:
    """Turns parsed Prometheus families (``prometheus_client.parser``) into one record per job and rank.

    Series that are not stoker's are ignored, so a scrape of a process exporting other metrics too
    still reads. Gauges whose value is unknown come back as None.
    """
    jobs: dict[tuple[str, str], JobRecord] = {}
    for family in families:
        for sample in family.samples:
            spec = BY_SAMPLE_NAME.get(sample.name)
            if spec is None:
                continue
            labels = sample.labels
            key = (labels.get("job", ""), labels.get("rank", "0"))
            rec = jobs.get(key)
            if rec is None:
                rec = jobs[key] = JobRecord(key[0], key[1], labels.get("backend", ""))
            value = sample.value
            if spec.key == "cpu_free" and value != value:  # NaN: the backend cannot tell
                value = None
            elif spec.key in INT_KEYS:
                value = int(value)
            if spec.per_stage:
                rec.stats.setdefault(spec.key, {})[labels.get(STAGE_LABEL, "")] = value
            else:
                rec.stats[spec.key] = value
    for rec in jobs.values():
        for spec in METRICS:
            if spec.per_stage:
                rec.stats.setdefault(spec.key, {})
        rec.stats.update(job=rec.job, rank=int(rec.rank) if rec.rank.isdigit() else rec.rank, backend=rec.backend)
    return sorted(jobs.values(), key=lambda r: r.key)


def parse_text(text: str) -> list[JobRecord]:
    """Parses a ``/metrics`` body into job records."""
    from prometheus_client.parser import text_string_to_metric_families

    return records_from_families(text_string_to_metric_families(text))


def markdown_table() -> str:
    """The metric <-> ``stats()`` table of ``docs/observability.md``."""
    rows = ["| metric | type | `stats()` key | meaning |", "|---|---|---|---|"]
    for m in METRICS:
        labels = ", ".join((*JOB_LABELS, STAGE_LABEL) if m.per_stage else JOB_LABELS)
        rows.append(f"| `{m.sample_name}{{{labels}}}` | {m.kind} | `{m.key}` | {m.help} |")
    return "\n".join(rows)
