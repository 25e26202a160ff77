from stoker.cli import main


def test_bench_cluster_refuses_an_unknown_policy_naming_the_choices(capsys) -> None:
    assert main(["bench", "cluster", "--policies", "static,fair"]) == 2
    err = capsys.readouterr().err
    assert "unknown CPU policy 'fair'; choose one of ['elastic', 'proportional', 'static', 'synergy']" in err
