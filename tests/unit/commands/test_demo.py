from stoker.cli import main


def test_negative_thread_count_is_one_line_and_status_2(capsys) -> None:
    assert main(["demo", "--threads", "-1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["stoker demo: error: --threads -1 should be >= 0 (0 keeps torch's default of one per core)"]
