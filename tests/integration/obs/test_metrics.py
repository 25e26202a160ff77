"""A real Loader's /metrics, scraped over HTTP and parsed by prometheus_client, equals its stats()."""

from __future__ import annotations

import os
import socket
import urllib.request
from pathlib import Path

import pytest

import stoker
from stoker.obs.schema import METRICS, parse_text
from stoker.obs.scrape import JobGone, scrape
from tests.integration.obs.pipelines import cheap, decode_bound, train

# Figures of time that move between two reads even when the loader is idle.
CLOCK_KEYS = {"wall_s", "worker_s", "cpu_free"}


def _scrape(address: str) -> dict:
    with urllib.request.urlopen(address + "/metrics", timeout=10) as resp:
        [rec] = parse_text(resp.read().decode())
    return rec.stats


def test_scrape_equals_stats_after_n_batches() -> None:
    n = 12
    with stoker.Loader(decode_bound(), workers=2, metrics_port=0, name="metrics-test") as loader:
        assert loader.metrics_address is not None and loader.metrics_address.startswith("http://127.0.0.1:")
        it = iter(loader)
        train(it, n)
        scraped = _scrape(loader.metrics_address)
        stats = loader.stats()
    assert scraped["samples"] == stats["samples"] == 8 * n
    assert scraped["items"] == n
    for spec in METRICS:
        if spec.key not in CLOCK_KEYS:
            assert scraped[spec.key] == stats[spec.key], spec.key
    assert scraped["wall_s"] <= stats["wall_s"]
    assert (scraped["job"], scraped["rank"], scraped["backend"]) == ("metrics-test", 0, "local")
    assert scraped["stage_s"].keys() == {"read", "decode", "collate"}


def test_counters_follow_the_run_and_the_port_closes_with_the_loader() -> None:
    with stoker.Loader(decode_bound(), workers=1, metrics_port="127.0.0.1:0") as loader:
        address = loader.metrics_address
        assert address is not None
        it = iter(loader)
        train(it, 3)
        first = _scrape(address)
        train(it, 4)
        second = _scrape(address)
        assert second["samples"] - first["samples"] == 32
        assert second["wait_s"] >= first["wait_s"] and second["stage_s"]["decode"] > first["stage_s"]["decode"]
    with pytest.raises(JobGone):
        scrape(address)


def test_skips_and_errors_are_counted(tmp_path: Path) -> None:
    def fails_on_3(x: int) -> int:
        if x == 3:
            raise ValueError("bad sample")
        return x

    pipe = stoker.from_items(list(range(40))).map(fails_on_3).batch(4)
    with stoker.Loader(pipe, workers=1, on_error="skip", metrics_port=0) as loader:
        assert sum(len(b) for b in loader) == 39
        scraped = _scrape(loader.metrics_address)  # type: ignore[arg-type]
        assert scraped["skipped"] == loader.stats()["skipped"] == 1
    with stoker.Loader(pipe, workers=1, metrics_port=0) as loader:
        with pytest.raises(stoker.SampleError):
            list(loader)
        assert _scrape(loader.metrics_address)["errors"] == loader.stats()["errors"] == 1  # type: ignore[arg-type]


def test_env_port_and_default_job_name(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    monkeypatch.setenv("STOKER_METRICS_PORT", str(port))
    monkeypatch.setattr("sys.argv", ["/somewhere/train_resnet.py"])
    with stoker.Loader(stoker.from_items(list(range(8))).map(cheap), workers=0) as loader:
        assert loader.metrics_address == f"http://127.0.0.1:{port}"
        list(loader)
        scraped = _scrape(loader.metrics_address)
        assert scraped["job"] == "train_resnet" and scraped["samples"] == 8
        assert scraped["cpu_free"] is None or 0.0 <= scraped["cpu_free"] <= os.cpu_count()


def test_env_port_goes_to_the_first_loader_and_the_second_gets_a_free_one(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    monkeypatch.setenv("STOKER_METRICS_PORT", str(port))
    pipe = stoker.from_items(list(range(8))).map(cheap)
    with stoker.Loader(pipe, workers=0) as first, stoker.Loader(pipe, workers=0) as second:
        assert first.metrics_address == f"http://127.0.0.1:{port}"
        assert second.metrics_address is not None and second.metrics_address != first.metrics_address
        list(second)
        assert _scrape(second.metrics_address)["samples"] == 8 and _scrape(first.metrics_address)["samples"] == 0
    with socket.socket() as taken:  # another process (a second rank on this machine) holds it
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        monkeypatch.setenv("STOKER_METRICS_PORT", str(taken.getsockname()[1]))
        with stoker.Loader(pipe, workers=0) as third:
            assert third.metrics_address is not None
            assert not third.metrics_address.endswith(f":{taken.getsockname()[1]}")


def test_a_taken_port_is_named() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = int(s.getsockname()[1])
        with pytest.raises(OSError, match=f"127.0.0.1:{port}.*metrics_port"):
            stoker.Loader(stoker.from_items([1, 2]), workers=0, metrics_port=port)


def test_a_bad_env_port_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STOKER_METRICS_PORT", "nine")
    with pytest.raises(ValueError, match="STOKER_METRICS_PORT='nine'"):
        stoker.Loader(stoker.from_items([1, 2]), workers=0)


def test_bad_metrics_port_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="metrics_port='nine'"):
        stoker.Loader(stoker.from_items([1, 2]), workers=0, metrics_port="nine")
