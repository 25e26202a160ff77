"""The metric table both ways: a collector's exposition parses back to the stats() it was made from."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from stoker.obs.exporter import StatsCollector, parse_address
from stoker.obs.schema import METRICS, markdown_table, parse_text
from tests.unit.obs.records import DECODE_BOUND


def _exposition(stats: dict) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StatsCollector(lambda: stats))  # type: ignore[arg-type]
    return generate_latest(registry).decode()


def test_every_row_round_trips_exactly() -> None:
    [rec] = parse_text(_exposition(DECODE_BOUND))
    assert (rec.job, rec.rank, rec.backend) == ("train", "0", "local")
    for spec in METRICS:
        assert rec.stats[spec.key] == DECODE_BOUND[spec.key], spec.metric
        assert type(rec.stats[spec.key]) is type(DECODE_BOUND[spec.key]), spec.metric


def test_counters_carry_total_and_every_series_the_job_labels() -> None:
    text = _exposition(DECODE_BOUND)
    assert 'stoker_samples_total{backend="local",job="train",rank="0"} 3200.0' in text
    assert 'stoker_stage_seconds_total{backend="local",job="train",rank="0",stage="decode"} 16.0' in text
    assert "# TYPE stoker_workers gauge" in text


def test_unknown_cpu_free_is_nan_on_the_wire_and_none_back() -> None:
    text = _exposition({**DECODE_BOUND, "cpu_free": None})
    assert 'stoker_cpu_free{backend="local",job="train",rank="0"} NaN' in text
    [rec] = parse_text(text)
    assert rec.stats["cpu_free"] is None


def test_a_gone_loader_exports_nothing() -> None:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StatsCollector(lambda: None))  # type: ignore[arg-type]
    assert parse_text(generate_latest(registry).decode()) == []


def test_other_series_in_a_scrape_are_ignored() -> None:
    text = "# TYPE process_cpu_seconds counter\nprocess_cpu_seconds_total 1.5\n" + _exposition(DECODE_BOUND)
    assert len(parse_text(text)) == 1


def test_two_ranks_are_two_records() -> None:
    second = _exposition({**DECODE_BOUND, "rank": 1, "samples": 7})
    # One exposition per rank, as two processes serve them; the parser sees both sample sets.
    samples_only = "\n".join(line for line in second.splitlines() if not line.startswith("#"))
    recs = parse_text(_exposition(DECODE_BOUND) + samples_only + "\n")
    assert [(r.rank, r.stats["samples"]) for r in recs] == [("0", 3200), ("1", 7)]


def test_markdown_table_lists_every_metric_and_key() -> None:
    table = markdown_table()
    for spec in METRICS:
        assert f"`{spec.sample_name}{{" in table and f"`{spec.key}`" in table


@pytest.mark.parametrize(
    ("spec", "want"),
    [
        (9100, ("127.0.0.1", 9100)),
        ("9100", ("127.0.0.1", 9100)),
        ("0.0.0.0:0", ("0.0.0.0", 0)),
        ("[::1]:80", ("::1", 80)),
    ],
)
def test_parse_address(spec: object, want: tuple[str, int]) -> None:
    assert parse_address(spec) == want  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["x", "host:", "70000", -1, "1.5"])
def test_parse_address_names_the_bad_value(bad: object) -> None:
    with pytest.raises(ValueError, match="metrics_port="):
        parse_address(bad)  # type: ignore[arg-type]


def test_the_docs_print_the_table_of_the_code() -> None:
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[3] / "docs" / "observability.md").read_text()
    assert markdown_table() in docs
