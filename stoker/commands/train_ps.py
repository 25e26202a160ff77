"""``stoker train ps``: parameter server + swap-sized batch + scaled LR on load_digits, end to end."""

from __future__ import annotations

import argparse


def _run(args: argparse.Namespace) -> int:
    from stoker.train.ps.optim import OptimSpec
    from stoker.train.ps.recipe import Recipe, plan, train

    optim = OptimSpec("sgd", {"momentum": 0.9}) if args.optimizer == "sgd" else OptimSpec("adam")
    recipe = Recipe(
        workers=args.workers,
        shards=args.shards,
        consistency=args.consistency,
        base_batch=args.base_batch,
        base_lr=args.base_lr,
        memory_budget_bytes=None if args.memory_budget_mib is None else int(args.memory_budget_mib * 2**20),
        swap=not args.no_swap,
        lr_rule=args.lr_rule,
        warmup_epochs=args.warmup_epochs,
        epochs=args.epochs,
        seed=args.seed,
        backend=args.backend,
        optimizer=optim,
    )
    print(f"(1) parameter server: {args.shards} shards ({args.backend}), {args.workers} workers, " + args.consistency)
    p = plan(recipe)
    fit = p.fit
    print(
        f"(2) memory budget {fit.budget_bytes / 2**20:.3f} MiB per worker: the memory model predicts largest batch "
        f"{fit.max_batch_no_swap} without swap, {fit.max_batch_swap} with swap "
        f"(x{fit.swap_batch_ratio:.2f}; a prediction, not a measurement); "
        f"chosen batch {p.batch} per worker, {p.global_batch} per round"
    )
    if args.lr_rule == "adascale":
        scale = p.global_batch / p.lr.base_batch
        print(
            f"(3) LR rule adascale: {args.base_lr} at batch {p.lr.base_batch} x gain in [1, {scale:.2f}] "
            f"at batch {p.global_batch}, the gain measured from each round's gradients"
        )
    else:
        target = p.lr.at(p.lr.warmup_steps)
        print(
            f"(3) LR rule {args.lr_rule}: {args.base_lr} at batch {p.lr.base_batch} -> {target:.4f} "
            f"at batch {p.global_batch}, warm-up {p.lr.warmup_steps} rounds"
        )
    print(f"    rounds per epoch: {p.rounds_per_epoch}")
    out = train(recipe, p)
    rounds = args.epochs * p.rounds_per_epoch
    lrs = ", ".join(f"{s['last_lr']:.4f}" for s in out.stats)
    print(f"(4) test accuracy {out.accuracy:.2f}% after {args.epochs} epochs ({rounds} rounds); last LR {lrs}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ps",
        help="parameter-server training on load_digits with swap-sized batches and a scaled LR",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--workers", type=int, default=2, help="trainer processes")
    p.add_argument("--shards", type=int, default=2, help="parameter-server shards")
    p.add_argument("--consistency", default="bsp", help="bsp, asp or ssp:S")
    p.add_argument("--backend", choices=("local", "ray"), default="local", help="shards as processes or Ray actors")
    p.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd", help="shard optimiser (sgd: momentum 0.9)")
    p.add_argument("--base-batch", type=int, default=32, help="per-worker batch the base LR is tuned for")
    p.add_argument("--base-lr", type=float, default=0.03, help="LR at the base batch")
    p.add_argument("--lr-rule", choices=("linear", "sqrt", "adascale"), default="linear", help="LR scaling rule")
    p.add_argument("--warmup-epochs", type=float, default=5.0, help="gradual warm-up length")
    p.add_argument(
        "--memory-budget-mib",
        type=float,
        default=None,
        help="device memory per worker (MiB); default: a device where the base batch just fits without swap",
    )
    p.add_argument("--no-swap", action="store_true", help="search the batch without activation swapping")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_run)
