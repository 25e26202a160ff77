"""What a Loader switches on for observation: metrics server, stats log, TensorBoard, CPU meter."""

from __future__ import annotations

import os
import sys
import weakref
from typing import Any

from stoker.obs.cpu import CpuMeter
from stoker.obs.exporter import MetricsServer, StatsCollector, parse_address, weak_stats
from stoker.obs.timeline import JsonlSink, Sampler, Sink, TensorBoardSink

ENV_PORT = "STOKER_METRICS_PORT"


def default_job_name() -> str:
    """The script's name (``train`` for ``python train.py``), ``python`` for ``-c`` and the REPL."""
    script = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    stem = os.path.splitext(script)[0]
    return stem if stem and stem not in ("-c", "-m", "__main__") else "python"


class Observer:
    """Owns what a Loader exposes to the outside; closing it stops every thread and port it opened.

    Args:
        loader: The Loader (held weakly: the observer never keeps it alive).
        name: Job name, the ``job`` label.
        metrics: Port or ``host:port`` to serve ``/metrics`` on, or None.
        stats_log: JSONL path, or None.
        tensorboard: A ``SummaryWriter``, or None.
        metrics_from_env: ``metrics`` came from ``$STOKER_METRICS_PORT``: the first Loader of the
            process gets that port, later ones (or ranks sharing the machine) any free port.
    """

    def __init__(
        self,
        loader: Any,
        name: str,
        metrics: int | str | None,
        stats_log: Any,
        tensorboard: Any,
        metrics_from_env: bool = False,
    ) -> None:
        self.name = name
        local = loader.pool is None or hasattr(loader.pool, "pids")  # in-process or forkserver workers
        self._cpu = CpuMeter(lambda: local)
        read = weak_stats(loader)
        self.server = (
            MetricsServer(StatsCollector(read), metrics, any_if_taken=metrics_from_env) if metrics is not None else None
        )
        sinks: list[Sink] = []
        if stats_log is not None:
            sinks.append(JsonlSink(stats_log))
        if tensorboard is not None:
            sinks.append(TensorBoardSink(tensorboard))
        self.sampler = Sampler(read, sinks) if sinks else None
        self._finalizer = weakref.finalize(loader, Observer._shutdown, self.server, self.sampler)

    @property
    def address(self) -> str | None:
        return None if self.server is None else self.server.url

    def cpu_free(self) -> float | None:
        return self._cpu.cores_idle()

    @staticmethod
    def _shutdown(server: MetricsServer | None, sampler: Sampler | None) -> None:
        if sampler is not None:
            sampler.close()
        if server is not None:
            server.close()

    def close(self) -> None:
        """Final stats line, then the port closes; safe to call twice."""
        self._finalizer()


def attach_observer(
    loader: Any, name: str | None, metrics_port: int | str | None, stats_log: Any, tensorboard: Any
) -> Observer:
    """Builds the loader's :class:`Observer` from its keywords and ``$STOKER_METRICS_PORT``."""
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise ValueError(f"name={name!r} should be a non-empty job name")
    from_env = metrics_port is None
    if from_env:
        metrics_port = os.environ.get(ENV_PORT) or None
        if metrics_port is not None:
            try:
                parse_address(metrics_port)
            except ValueError:
                raise ValueError(
                    f"{ENV_PORT}={metrics_port!r} should be a port (0-65535, 0 = any free one) or 'host:port'; "
                    f"fix or unset it"
                ) from None
    if isinstance(metrics_port, bool):
        raise ValueError(f"metrics_port={metrics_port!r} should be a port number or 'host:port'")
    return Observer(loader, name or default_job_name(), metrics_port, stats_log, tensorboard, from_env)
