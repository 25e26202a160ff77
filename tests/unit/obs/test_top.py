"""``stoker top``'s screen as a pure function of what it scraped."""

from __future__ import annotations

import socket

import pytest
from rich.console import Console

from stoker.cli import main
from stoker.obs.schema import JobRecord
from stoker.obs.scrape import JobGone, metrics_url, scrape
from stoker.obs.top import TopState, poll, render, sparkline
from tests.unit.obs.records import DECODE_BOUND


def _screen(state: TopState, targets: list[str]) -> str:
    console = Console(width=200, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(render(state, targets))
    return console.export_text()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_sparkline_scales_to_the_largest_value() -> None:
    assert sparkline([0.0, 50.0, 100.0]) == "▁▅█"
    assert sparkline([0.0, 0.0]) == "▁▁"
    assert sparkline([]) == ""


def test_rows_show_rates_between_scrapes_workers_stages_and_diagnosis() -> None:
    url = "http://127.0.0.1:1/metrics"
    first = JobRecord("train", "0", "local", dict(DECODE_BOUND))
    later = dict(DECODE_BOUND, samples=3200 + 640, wall_s=DECODE_BOUND["wall_s"] + 2.0, wait_s=9.5, step_s=2.5)
    state = TopState()
    state.observe(url, [first])
    state.observe(url, [JobRecord("train", "0", "local", later)])
    text = _screen(state, [url])
    assert "train" in text and "320" in text  # 640 samples in 2 s
    assert "2/8" in text  # workers / budget
    assert "decode 5.00" in text  # ms per sample
    assert "data-bound" in text


def test_a_job_that_stops_answering_is_called_gone() -> None:
    url = metrics_url(f"127.0.0.1:{_closed_port()}")
    state = TopState()
    state.observe(url, [JobRecord("train", "0", "local", dict(DECODE_BOUND))])
    poll(state, [url])
    assert url in state.gone
    text = _screen(state, [url])
    assert f"job at {url} is gone" in text


def test_scrape_of_a_closed_port_raises_job_gone() -> None:
    with pytest.raises(JobGone):
        scrape(f"127.0.0.1:{_closed_port()}")


@pytest.mark.parametrize(
    ("target", "url"),
    [
        ("9100", "http://127.0.0.1:9100/metrics"),
        ("host:9100", "http://host:9100/metrics"),
        ("http://h:1/", "http://h:1/metrics"),
        ("http://h:1/metrics", "http://h:1/metrics"),
    ],
)
def test_metrics_url(target: str, url: str) -> None:
    assert metrics_url(target) == url


def test_cli_top_bad_input_is_one_line_and_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["top"]) == 2
    assert main(["top", "ftp://x"]) == 2
    assert main(["top", "--interval", "0", "http://127.0.0.1:1"]) == 2
    assert main(["top", "--cluster"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4 and all(line.startswith("stoker top: error:") for line in err)


def test_cli_top_once_on_a_gone_job_says_so_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["top", "--once", f"127.0.0.1:{_closed_port()}"]) == 1
    assert "is gone" in capsys.readouterr().out


def test_a_new_loader_on_the_same_address_starts_a_fresh_history() -> None:
    url = "http://127.0.0.1:1/metrics"
    state = TopState()
    state.observe(url, [JobRecord("train", "0", "local", dict(DECODE_BOUND))])
    later = dict(DECODE_BOUND, samples=4000, wall_s=DECODE_BOUND["wall_s"] + 1.0)
    state.observe(url, [JobRecord("train", "0", "local", later)])
    restarted = dict(DECODE_BOUND, samples=10, wall_s=0.5)
    state.observe(url, [JobRecord("train", "0", "local", restarted)])
    [view] = state.jobs.values()
    assert list(view.sps) == [] and view.record.stats["samples"] == 10
