from stoker.cli import build_parser


def test_train_ps_parses_its_options() -> None:
    args = build_parser().parse_args(["train", "ps", "--workers", "3", "--consistency", "ssp:2", "--no-swap"])
    assert args.workers == 3 and args.consistency == "ssp:2" and args.no_swap and args.lr_rule == "linear"
    assert callable(args.func)
