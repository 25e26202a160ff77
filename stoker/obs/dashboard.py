"""``stoker dashboard``: one web page with live charts of running jobs, or of a cluster controller's jobs.

A small stdlib HTTP server: ``/`` is the page, ``/static/...`` the chart library (uPlot, MIT,
shipped in this package: no CDN at run time), ``/api/jobs`` the figures of every target, read
from its ``/metrics`` at request time with the same parser as ``stoker top``. It serves GET only.
"""

from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import asdict
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

from stoker.obs.cluster import cluster_rows
from stoker.obs.diagnose import diagnose
from stoker.obs.schema import parse_text
from stoker.obs.scrape import JobGone, fetch_text, metrics_url
from stoker.obs.top import TopState

STATIC = {  # name -> content type; nothing else under /static is served
    "index.html": "text/html; charset=utf-8",
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
    "uPlot.iife.min.js": "text/javascript; charset=utf-8",
    "uPlot.min.css": "text/css; charset=utf-8",
    "uPlot.LICENSE": "text/plain; charset=utf-8",
}


def _finite(obj: Any) -> Any:
    """JSON has no NaN/inf: they become null."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def jobs_payload(targets: list[str], state: TopState | None = None) -> dict[str, Any]:
    """What ``/api/jobs`` returns: per target, its jobs' stats and diagnosis, or why it is gone.

    Args:
        targets: ``/metrics`` URLs.
        state: Earlier scrapes (as ``stoker top`` keeps them): the diagnosis then judges the last
            ~10 s of each job instead of its whole life, pauses and start-up included.
    """
    state = state if state is not None else TopState()
    out: list[dict[str, Any]] = []
    for url in targets:
        try:
            text = fetch_text(url)
        except JobGone as exc:
            out.append({"url": url, "gone": str(exc).split(": ", 1)[-1], "jobs": [], "cluster": None})
            continue
        records = parse_text(text)
        state.observe(url, records)
        views = [state.jobs[(url, *r.key)] for r in records]
        jobs = [{"stats": v.record.stats, "diagnosis": asdict(diagnose(v.record.stats, v.baseline()))} for v in views]
        out.append({"url": url, "gone": None, "jobs": jobs, "cluster": _cluster(text)})
    return _finite({"time": time.time(), "targets": out})


def _cluster(text: str) -> dict[str, Any] | None:
    """The controller's jobs and budgets when ``text`` is a cluster controller's scrape, else None."""
    jobs, rounds = cluster_rows(text)
    if rounds is None:
        return None
    rows = [{"name": j.name, "node": j.node, **j.values} for j in sorted(jobs.values(), key=lambda j: j.name)]
    return {"rounds": rounds, "jobs": rows}


def _static(name: str) -> bytes:
    return resources.files("stoker.obs").joinpath("static", name).read_bytes()


class DashboardServer:
    """Serves the page for ``targets`` (job metrics addresses) on ``host:port`` in a daemon thread.

    Args:
        targets: Metrics addresses of jobs (``http://host:P``).
        port: Port to listen on (0: any free one).
        host: Address to bind; 127.0.0.1 keeps the page on this machine.
    """

    def __init__(self, targets: list[str], port: int = 8050, host: str = "127.0.0.1") -> None:
        self.targets = [metrics_url(t) for t in targets]
        handler = _handler(self.targets, TopState())
        try:
            self.httpd = ThreadingHTTPServer((host, port), handler)
        except OSError as exc:
            raise OSError(f"cannot serve the dashboard on {host}:{port} ({exc}); pick another --port") from exc
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        self.host = host
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="stoker-dashboard", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{'127.0.0.1' if self.host in ('', '0.0.0.0') else self.host}:{self.port}/"

    def start(self) -> DashboardServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)


def _handler(targets: list[str], state: TopState) -> type[BaseHTTPRequestHandler]:
    lock = threading.Lock()  # one scrape at a time: the state's history stays in order

    class Handler(BaseHTTPRequestHandler):
        server_version = "stoker-dashboard"

        def log_message(self, format: str, *args: Any) -> None:  # quiet: one line a poll is noise
            return

        def _send(self, body: bytes, ctype: str, status: HTTPStatus = HTTPStatus.OK) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path in ("/", "/index.html"):
                self._send(_static("index.html"), STATIC["index.html"])
            elif path == "/api/jobs":
                with lock:
                    payload = jobs_payload(targets, state)
                self._send(json.dumps(payload).encode(), "application/json")
            elif path.startswith("/static/") and path[len("/static/") :] in STATIC:
                name = path[len("/static/") :]
                self._send(_static(name), STATIC[name])
            elif path == "/favicon.ico":
                self._send(b"", "image/x-icon", HTTPStatus.NO_CONTENT)
            else:
                self._send(b"not found\n", "text/plain", HTTPStatus.NOT_FOUND)

    return Handler
