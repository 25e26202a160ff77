"""``stoker cluster``: bad numbers are one line and exit 2, before anything connects to Ray."""

from __future__ import annotations

import pytest

from stoker.cli import main


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--period", "0"], "--period 0.0 should be > 0"),
        (["--remote-cost", "1.5"], "--remote-cost 1.5"),
        (["--metrics-port", "http"], "--metrics-port 'http' should be a port"),
        (["--metrics-port", "70000"], "--metrics-port '70000'"),
    ],
)
def test_bad_start_arguments_are_one_line_and_exit_2(
    argv: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cluster", "start", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and named in err[0]


def test_a_verb_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["cluster"])
    assert exc.value.code == 2
