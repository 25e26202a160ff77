from stoker.cli import build_parser
from stoker.commands.bench import available


def test_parser_lists_commands() -> None:
    help_text = build_parser().format_help()
    assert "demo" in help_text and "bench" in help_text


def test_bench_modules_are_discovered() -> None:
    assert isinstance(available(), list)
