"""Reading a job's figures from outside it: one HTTP GET of ``/metrics``, parsed into records."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request

from stoker.errors import InputError
from stoker.obs.schema import JobRecord, parse_text

TIMEOUT_S = 2.0


class JobGone(Exception):
    """The job's metrics endpoint does not answer (it ended, or the address is wrong)."""


def metrics_url(target: str) -> str:
    """``host:port``, ``http://host:port`` or a full ``.../metrics`` URL -> the ``/metrics`` URL.

    Raises:
        InputError: when ``target`` is not an http address.
    """
    url = target.strip()
    if url.isdigit():
        url = f"127.0.0.1:{url}"
    if "://" not in url:
        url = "http://" + url
    bad = InputError(f"{target!r} is not an http address of a job's metrics; give e.g. http://127.0.0.1:9100")
    if not url.startswith(("http://", "https://")) or any(c.isspace() for c in url):
        raise bad
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number in 0..65535
    except ValueError:
        raise bad from None
    if not parts.hostname:
        raise bad
    return url if url.rstrip("/").endswith("/metrics") else url.rstrip("/") + "/metrics"


def fetch_text(url: str, timeout: float = TIMEOUT_S) -> str:
    """The body of ``url``; raises :class:`JobGone` when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            # Whatever answers may not be a metrics endpoint: undecodable bytes must not end the view.
            return resp.read().decode("utf-8", errors="replace")
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError, ValueError) as exc:
        raise JobGone(f"{url}: {getattr(exc, 'reason', exc)}") from exc


def scrape(target: str, timeout: float = TIMEOUT_S) -> list[JobRecord]:
    """The stoker jobs a metrics endpoint reports (one record per job and rank)."""
    return parse_text(fetch_text(metrics_url(target), timeout))
