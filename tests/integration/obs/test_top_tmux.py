"""``stoker top`` in a real terminal (tmux): shows the job, says when it is gone, quits on q."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.obs.browser import screenshot_dir, svg_to_png

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def _tmux_present() -> None:
    if shutil.which("tmux") is None:
        if os.geteuid() != 0:
            pytest.skip("tmux is missing and not root: apt-get install -y tmux")
        pytest.fail("tmux is missing: run .ci/run (make system-deps) or apt-get install -y tmux")


def wait_for(what: Callable[[], bool], timeout: float, message: str) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if what():
            return
        time.sleep(0.2)
    raise AssertionError(message)


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True).stdout


def _keep_screen(ansi: str, folder: str) -> None:
    """The pane as the user saw it (colours included) -> top.png, through rich's SVG and Chromium."""
    from rich.console import Console
    from rich.text import Text

    console = Console(record=True, width=200, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(Text.from_ansi(ansi.rstrip() + "\n"))
    svg = os.path.join(folder, "top.svg")
    console.save_svg(svg, title="stoker top")
    svg_to_png(svg, os.path.join(folder, "top.png"), 1700, 560)
    os.remove(svg)


@pytest.fixture
def job(tmp_path: Path) -> Iterator[tuple[str, Path, subprocess.Popen]]:
    address, stop = tmp_path / "address", tmp_path / "stop"
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.obs.job", str(address), str(stop)], cwd=ROOT, env=env
    )
    try:
        wait_for(address.exists, 120, "the job never served its metrics")
        yield address.read_text(), stop, proc
    finally:
        stop.touch()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_top_shows_the_job_says_when_it_is_gone_and_quits_on_q(
    job: tuple[str, Path, subprocess.Popen], tmp_path: Path
) -> None:
    url, stop, proc = job
    session = f"stoker-top-{uuid.uuid4().hex[:8]}"
    status = tmp_path / "status"
    # pytest exports COLUMNS=80 to its children; the pane's own size must rule.
    env = f"env -u COLUMNS -u LINES PYTHONPATH={shlex.quote(str(ROOT))}"
    top = f"{env} {shlex.quote(sys.executable)} -m stoker top --interval 0.5 {shlex.quote(url)}"
    # The pane outlives top, so the test can read its exit status and last screen.
    _tmux("new-session", "-d", "-s", session, "-x", "200", "-y", "40", f"{top}; echo $? > {status}; sleep 600")
    try:

        def screen() -> str:
            return _tmux("capture-pane", "-p", "-t", session)

        wait_for(lambda: "tmux-job" in screen() and "decode" in screen(), 90, f"top never showed the job:\n{screen()}")
        text = screen()
        assert "data-wait" in text and "1/" in text  # one worker of its budget
        assert "diagnosis:" in text
        shots = screenshot_dir()
        if shots:
            time.sleep(8)  # a few points of history in the sparkline
            _keep_screen(_tmux("capture-pane", "-e", "-p", "-t", session), shots)
        stop.touch()
        proc.wait(timeout=60)
        wait_for(lambda: "is gone" in screen(), 30, f"top never said the job is gone:\n{screen()}")
        _tmux("send-keys", "-t", session, "q")
        wait_for(status.exists, 30, f"top did not quit on q:\n{screen()}")
        assert status.read_text().strip() == "0"
        assert "Traceback" not in screen()
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
