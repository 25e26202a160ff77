"""``stoker top``: a live terminal view of running jobs, read from their ``/metrics``.

Each refresh scrapes every target once; rates are differences between consecutive scrapes (so
they show the job now, not its average since start). :func:`render` is a pure function of the
:class:`TopState`, the loop around it only scrapes, redraws in place and reads keys.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from rich.console import Group, JustifyMethod, RenderableType
from rich.table import Table
from rich.text import Text

from stoker.obs.diagnose import diagnose
from stoker.obs.schema import JobRecord
from stoker.obs.scrape import JobGone, metrics_url, scrape

HISTORY = 30  # points of the per-row sparkline
DIAGNOSE_OVER_S = 10.0  # the diagnosis judges the last ~10 s of the job
BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float]) -> str:
    """Unicode bars scaled to the largest value (empty for no data)."""
    top = max(values, default=0.0)
    if top <= 0:
        return BARS[0] * len(values)
    return "".join(BARS[min(len(BARS) - 1, int(v / top * (len(BARS) - 1) + 0.5))] for v in values)


@dataclass
class JobView:
    """What ``stoker top`` remembers about one job (rank)."""

    url: str
    record: JobRecord
    sps: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY))
    wait: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY))
    past: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=256))  # earlier scrapes

    def update(self, rec: JobRecord) -> None:
        prev, now = self.record.stats, rec.stats
        if now.get("wall_s", 0.0) < prev.get("wall_s", 0.0):  # a new loader on the same address
            self.sps.clear()
            self.wait.clear()
            self.past.clear()
            self.record = rec
            return
        dt = now.get("wall_s", 0.0) - prev.get("wall_s", 0.0)
        if dt > 0:
            busy = (now["wait_s"] - prev["wait_s"]) + (now["step_s"] - prev["step_s"])
            self.sps.append((now["samples"] - prev["samples"]) / dt)
            self.wait.append((now["wait_s"] - prev["wait_s"]) / busy if busy > 0 else 0.0)
        self.past.append(prev)
        self.record = rec

    def baseline(self) -> dict[str, Any] | None:
        """The scrape closest to :data:`DIAGNOSE_OVER_S` ago (None: judge since start)."""
        wall = self.record.stats.get("wall_s", 0.0)
        older = [p for p in self.past if wall - p.get("wall_s", 0.0) >= DIAGNOSE_OVER_S]
        return older[-1] if older else None


@dataclass
class TopState:
    """Every job seen, and which targets stopped answering."""

    jobs: dict[tuple[str, str, str], JobView] = field(default_factory=dict)
    gone: dict[str, str] = field(default_factory=dict)  # url -> why

    def observe(self, url: str, records: list[JobRecord]) -> None:
        self.gone.pop(url, None)
        for rec in records:
            key = (url, *rec.key)
            view = self.jobs.get(key)
            if view is None:
                self.jobs[key] = JobView(url, rec)
            else:
                view.update(rec)

    def lost(self, url: str, why: str) -> None:
        self.gone[url] = why


def _stages(stats: dict[str, Any], limit: int = 3) -> str:
    per = sorted(stats.get("stage_s_per_sample", {}).items(), key=lambda kv: -kv[1])[:limit]
    return ", ".join(f"{k} {1000 * v:.2f}" for k, v in per) or "-"


def render(state: TopState, targets: list[str]) -> RenderableType:
    """The whole screen for one refresh."""
    table = Table(title="stoker top  (q quits)", expand=True)
    columns: list[tuple[str, JustifyMethod]] = [
        ("job", "left"),
        ("rank", "right"),
        ("samples/s", "right"),
        ("history", "left"),
        ("data-wait", "right"),
        ("workers/budget", "right"),
        ("queue", "right"),
        ("stage ms/sample", "left"),
        ("errors", "right"),
        ("skipped", "right"),
        ("restarts", "right"),
    ]
    for col, just in columns:
        # The stage column takes what is left; the others keep their header readable.
        wide = col == "stage ms/sample"
        table.add_column(
            col, justify=just, no_wrap=not wide, min_width=None if wide else len(col), ratio=1 if wide else None
        )
    notes: list[RenderableType] = []
    for (url, _job, _rank), view in sorted(state.jobs.items()):
        s = view.record.stats
        gone = url in state.gone
        sps = view.sps[-1] if view.sps else s.get("samples_per_s", 0.0)
        wait = view.wait[-1] if view.wait else s.get("wait_fraction", 0.0)
        table.add_row(
            Text(view.record.job, style="red strike" if gone else "bold"),
            str(view.record.rank),
            f"{sps:,.0f}",
            sparkline(list(view.sps)),
            Text(f"{wait:.0%}", style="red" if wait >= 0.1 else "green"),
            f"{s.get('workers', 0)}/{s.get('max_workers', 0)}",
            str(s.get("queue_depth", 0)),
            _stages(s),
            Text(str(s.get("errors", 0)), style="red" if s.get("errors") else ""),
            str(s.get("skipped", 0)),
            str(s.get("workers_lost", 0)),
        )
        if not gone:
            notes.append(Text(f"{view.record.job}[{view.record.rank}] " + str(diagnose(s, view.baseline()))))
    for url, why in sorted(state.gone.items()):
        notes.append(Text(f"job at {url} is gone: {why} (showing its last figures)", style="bold red"))
    waiting = [t for t in targets if not any(k[0] == t for k in state.jobs) and t not in state.gone]
    notes += [Text(f"waiting for {t} ...", style="yellow") for t in waiting]
    return Group(table, *notes)


def poll(state: TopState, targets: list[str], fetch: Callable[[str], list[JobRecord]] = scrape) -> None:
    """Scrapes every target once into ``state``."""
    for url in targets:
        try:
            state.observe(url, fetch(url))
        except JobGone as exc:
            state.lost(url, str(exc).split(": ", 1)[-1])


@contextlib.contextmanager
def _keys() -> Iterator[Callable[[float], str]]:
    """Yields ``wait(seconds) -> key pressed or ''``; cbreak mode while a terminal is attached."""
    fd = sys.stdin.fileno() if sys.stdin and sys.stdin.isatty() else None
    if fd is None:

        def sleep(timeout: float) -> str:
            time.sleep(timeout)
            return ""

        yield sleep
        return
    import termios
    import tty

    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)
    try:

        def read(timeout: float) -> str:
            ready, _, _ = select.select([fd], [], [], timeout)
            return os.read(fd, 1).decode(errors="replace") if ready else ""

        yield read
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _live(frame: Callable[[], RenderableType], interval: float) -> int:
    """Redraws ``frame()`` in place every ``interval`` seconds until ``q`` or Ctrl-C."""
    from rich.console import Console
    from rich.live import Live

    try:
        with _keys() as wait, Live(console=Console(), auto_refresh=False, screen=False) as live:
            while True:
                live.update(frame(), refresh=True)
                if wait(interval).lower() == "q":
                    break
    except KeyboardInterrupt:
        pass
    return 0


def run_top(targets: list[str], interval: float = 1.0, once: bool = False) -> int:
    """Runs the live view until ``q`` or Ctrl-C; ``once`` prints one frame and returns."""
    from rich.console import Console

    urls = [metrics_url(t) for t in targets]
    state = TopState()

    def frame() -> RenderableType:
        poll(state, urls)
        return render(state, urls)

    if once:
        Console().print(frame())
        return 0 if state.jobs else 1
    return _live(frame, interval)


def run_cluster_top(target: str, interval: float = 1.0, once: bool = False) -> int:
    """The cluster view: every job the controller serving ``target``'s ``/metrics`` knows, with its budget."""
    from rich.console import Console

    from stoker.obs.cluster import cluster_rows, merge, render_cluster
    from stoker.obs.scrape import fetch_text

    url = metrics_url(target)
    jobs: dict[str, Any] = {}
    answered = False

    def frame() -> RenderableType:
        nonlocal jobs, answered
        try:
            scraped, rounds = cluster_rows(fetch_text(url))
        except JobGone as exc:
            why = str(exc).split(": ", 1)[-1]
            return Group(Text(f"the cluster controller at {url} is gone: {why}", style="bold red"))
        answered = True
        jobs = merge(jobs, scraped)
        if rounds is None:
            return Text(f"{url} serves no stoker_cluster_* metrics: is it a job's address?", style="yellow")
        return render_cluster(jobs, rounds, sparkline)

    if once:
        Console().print(frame())
        return 0 if answered else 1
    return _live(frame, interval)
