"""Prometheus metrics of a Loader, read from ``stats()`` at scrape time.

Nothing runs on the trainer's hot path: the HTTP thread of ``prometheus_client`` calls the
collector when Prometheus (or ``stoker top``) scrapes, the collector takes one ``stats()``
snapshot and writes every row of :data:`stoker.obs.schema.METRICS` from it, so one scrape is
one consistent snapshot and each counter equals its ``stats()`` key exactly.
"""

from __future__ import annotations

import errno
import logging
import math
import weakref
from collections.abc import Callable, Iterator
from typing import Any

from stoker.obs.schema import JOB_LABELS, METRICS, STAGE_LABEL

log = logging.getLogger("stoker")

DEFAULT_HOST = "127.0.0.1"
SNAPSHOT_TRIES = 3  # stats() read from another thread can meet a dict that grows mid-copy


class StatsCollector:
    """A ``prometheus_client`` custom collector over one loader's ``stats()``.

    Args:
        stats: Returns the current stats dict (a bound ``Loader.stats``, held weakly by the caller).
    """

    def __init__(self, stats: Callable[[], dict[str, Any] | None]) -> None:
        self._stats = stats

    def _snapshot(self) -> dict[str, Any] | None:
        for attempt in range(SNAPSHOT_TRIES):
            try:
                return self._stats()
            except RuntimeError:  # "dictionary changed size during iteration": read again
                if attempt == SNAPSHOT_TRIES - 1:
                    raise
        return None

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        s = self._snapshot()
        if s is None:  # the loader is gone
            return
        base = [str(s.get(k, "")) for k in JOB_LABELS]
        for spec in METRICS:
            cls = CounterMetricFamily if spec.kind == "counter" else GaugeMetricFamily
            labels = [*JOB_LABELS, STAGE_LABEL] if spec.per_stage else list(JOB_LABELS)
            family = cls(spec.metric, spec.help, labels=labels)
            value = s.get(spec.key)
            if spec.per_stage:
                for stage, v in sorted((value or {}).items()):
                    family.add_metric([*base, stage], float(v))
            else:
                family.add_metric(base, math.nan if value is None else float(value))
            yield family


def parse_address(spec: int | str, default_host: str = DEFAULT_HOST) -> tuple[str, int]:
    """``9100`` / ``"9100"`` / ``"0.0.0.0:9100"`` -> (host, port).

    Raises:
        ValueError: naming the value, when it is not a port or ``host:port``.
    """
    text = str(spec).strip()
    host, _, port = text.rpartition(":")
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"metrics_port={spec!r} should be a port (0-65535, 0 = any free one) or 'host:port'")
    return (host.strip("[]") or default_host), int(port)


class MetricsServer:
    """Serves ``/metrics`` of one collector on its own registry (other loaders keep theirs).

    Args:
        collector: A ``prometheus_client`` collector (:class:`StatsCollector` for a loader,
            :class:`stoker.obs.cluster.ClusterCollector` for the cluster controller).
        address: Port or ``host:port``; the host defaults to 127.0.0.1 so nothing is exposed
            beyond this machine unless asked.
        any_if_taken: When that port is taken, serve on any free one (logged) instead of failing:
            for a port from the environment, which every Loader of a program (and every rank
            on the machine) reads, and only the first can have.
    """

    def __init__(self, collector: Any, address: int | str, any_if_taken: bool = False) -> None:
        host, port = parse_address(address)
        try:
            from prometheus_client import CollectorRegistry, start_http_server
        except ImportError as exc:
            raise ImportError(
                f"metrics_port={address!r} needs prometheus-client: pip install 'stoker[metrics]'"
            ) from exc
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(collector)
        try:
            self._httpd, self._thread = start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            if any_if_taken and exc.errno == errno.EADDRINUSE and port != 0:
                self._httpd, self._thread = start_http_server(0, addr=host, registry=self.registry)
                log.warning(
                    "stoker: metrics port %s:%d is taken (another Loader or process has it); serving on %d",
                    host,
                    port,
                    self._httpd.server_port,
                )
                self.host, self.port = host, int(self._httpd.server_port)
                return
            raise OSError(
                f"cannot serve metrics on {host}:{port} ({exc}); pick another metrics_port (0 = any free one)"
            ) from exc
        self.host = host
        self.port = int(self._httpd.server_port)

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        return f"http://{host}:{self.port}"

    def close(self) -> None:
        """Stops serving; a scrape after this finds the port closed (``stoker top`` says the job is gone)."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def weak_stats(loader: Any) -> Callable[[], dict[str, Any] | None]:
    """``loader.stats`` without keeping the loader alive (a dropped loader still closes its workers)."""
    ref = weakref.ref(loader)

    def read() -> dict[str, Any] | None:
        obj = ref()
        return None if obj is None else obj.stats()

    return read
