"""The cluster controller's view as Prometheus metrics, and ``stoker top --cluster``'s table of it.

The controller service (``stoker cluster``) answers its status as ``ClusterStatus.to_json()``: a dict
with ``policy``, ``rounds`` and ``jobs``, each job a dict of ``name``, ``node``, ``gpus``, ``budget``,
``workers``, ``throughput``, ``data_wait``, ``silent_s``. :class:`ClusterCollector` exports that dict
(read at scrape time, like a loader's); :func:`cluster_rows` reads a scrape back, and
:func:`render_cluster` draws one row per job with its budget.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from stoker.obs.schema import MetricSpec

JOB_LABELS = ("job", "node")
HISTORY = 30

# One row per job field of the controller's status; the stats-like key is the status field.
CLUSTER_JOB_METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("stoker_cluster_job_budget", "budget", "gauge", "Data workers the controller lets the job run."),
    MetricSpec("stoker_cluster_job_workers", "workers", "gauge", "Data workers in the job's last report."),
    MetricSpec("stoker_cluster_job_samples_per_second", "throughput", "gauge", "Samples/s in its last report."),
    MetricSpec("stoker_cluster_job_data_wait_fraction", "data_wait", "gauge", "Share of its last round spent waiting."),
    MetricSpec("stoker_cluster_job_gpus", "gpus", "gauge", "Accelerators the job holds."),
    MetricSpec("stoker_cluster_job_silent_seconds", "silent_s", "gauge", "Seconds since the job's last report."),
)
ROUNDS = MetricSpec("stoker_cluster_rounds", "rounds", "counter", "Allocation rounds the controller ran.")
BY_NAME = {m.sample_name: m for m in (*CLUSTER_JOB_METRICS, ROUNDS)}


class ClusterCollector:
    """A ``prometheus_client`` collector over the controller's status dict (None: controller gone).

    Args:
        status: Returns ``ClusterStatus.to_json()`` (or an equal dict), or None.
    """

    def __init__(self, status: Callable[[], dict[str, Any] | None]) -> None:
        self._status = status

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        st = self._status()
        if st is None:
            return
        rounds = CounterMetricFamily(ROUNDS.metric, ROUNDS.help, labels=["policy"])
        rounds.add_metric([str(st.get("policy", ""))], float(st.get("rounds", 0)))
        yield rounds
        for spec in CLUSTER_JOB_METRICS:
            family = GaugeMetricFamily(spec.metric, spec.help, labels=list(JOB_LABELS))
            for job in st.get("jobs", ()):
                family.add_metric([str(job["name"]), str(job.get("node", ""))], float(job[spec.key]))
            yield family


@dataclass
class ClusterJob:
    """One job of the cluster as a scrape shows it, with a short throughput history."""

    name: str
    node: str
    values: dict[str, float] = field(default_factory=dict)
    sps: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY))


def cluster_rows(text: str) -> tuple[dict[str, ClusterJob], float | None]:
    """Parses the controller's ``/metrics``: its jobs by name, and its round counter (None: absent)."""
    from prometheus_client.parser import text_string_to_metric_families

    jobs: dict[str, ClusterJob] = {}
    rounds = None
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            spec = BY_NAME.get(sample.name)
            if spec is None:
                continue
            if spec is ROUNDS:
                rounds = sample.value
                continue
            name = sample.labels.get("job", "")
            job = jobs.setdefault(name, ClusterJob(name, sample.labels.get("node", "")))
            job.values[spec.key] = sample.value
    return jobs, rounds


def merge(history: dict[str, ClusterJob], scraped: dict[str, ClusterJob]) -> dict[str, ClusterJob]:
    """The new scrape, each job keeping its samples/s history (jobs that left drop out)."""
    out = {}
    for name, job in scraped.items():
        past = history.get(name)
        if past is not None:
            job.sps = past.sps
        job.sps.append(job.values.get("throughput", 0.0))
        out[name] = job
    return out


def render_cluster(
    jobs: dict[str, ClusterJob], rounds: float | None, sparkline: Callable[[list[float]], str]
) -> RenderableType:
    """One row per job: node, GPUs, budget, workers, samples/s with history, data-wait, silence."""
    title = "stoker top --cluster  (q quits)" + (f"  round {rounds:.0f}" if rounds is not None else "")
    table = Table(title=title, expand=True)
    for col in ("job", "node", "gpus", "budget", "workers", "samples/s", "history", "data-wait", "silent s"):
        table.add_column(col, justify="left" if col in ("job", "node", "history") else "right", no_wrap=True)
    for name in sorted(jobs):
        v = jobs[name].values
        wait = v.get("data_wait", 0.0)
        table.add_row(
            Text(name, style="bold"),
            jobs[name].node[:12],
            f"{v.get('gpus', 0.0):g}",
            f"{v.get('budget', 0.0):.0f}",
            f"{v.get('workers', 0.0):.1f}",
            f"{v.get('throughput', 0.0):,.0f}",
            sparkline(list(jobs[name].sps)),
            Text(f"{wait:.0%}", style="red" if wait >= 0.1 else "green"),
            f"{v.get('silent_s', 0.0):.0f}",
        )
    return table
