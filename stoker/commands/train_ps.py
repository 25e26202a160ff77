"""``stoker train ps``: parameter server + swap-sized batch + scaled LR on load_digits, end to end."""

from __future__ import annotations

import argparse
import sys
import time

from stoker.commands._args import float_between, int_between, non_negative_int, positive_float, positive_int
from stoker.errors import InputError

POLL_S = 1.0  # how often to look again at the Ray cluster's free CPUs while waiting
# Upper bounds that only refuse nonsense: each worker and shard is a process (or a Ray actor), an SGD
# learning rate above 10 diverges on any model, and a warm-up past 10,000 epochs never ends.
MAX_PROCESSES = 1024
MAX_LR = 10.0
MAX_WARMUP_EPOCHS = 1e4
MAX_BUDGET_MIB = 2.0**30  # 1 PiB per worker


def wait_for_ray_cpus(shards: int, workers: int, timeout: float) -> None:
    """Joins (or starts) Ray and waits until it has a CPU for every shard actor and worker task.

    Ray queues an actor or task that no node can hold, silently and forever; on a 2-CPU machine
    ``train ps --backend ray`` used to hang. This says what it waits for, once, and gives up
    after ``timeout`` seconds.

    Raises:
        InputError: The CPUs did not become free in time; names what is needed and what exists.
    """
    import ray

    if not ray.is_initialized():
        ray.init(ignore_reinit_error=True, include_dashboard=False, log_to_driver=False)
    need = shards + workers  # one CPU per shard actor and per worker task (stoker.train.ps.ray_backend)
    end = time.monotonic() + timeout
    said = False
    while True:
        free = float(ray.available_resources().get("CPU", 0.0))
        total = float(ray.cluster_resources().get("CPU", 0.0))
        if free >= need:
            return
        if not said:
            print(
                f"waiting up to {timeout:g} s for {need} free Ray CPUs ({shards} shard actors + {workers} worker "
                f"tasks, 1 CPU each); the cluster has {free:g} free of {total:g}",
                file=sys.stderr,
                flush=True,
            )
            said = True
        if time.monotonic() >= end:
            raise InputError(
                f"--backend ray needs {need} free CPUs ({shards} shards + {workers} workers) but the Ray cluster "
                f"has {free:g} free of {total:g} after {timeout:g} s; add nodes, or lower --shards/--workers"
            )
        time.sleep(min(POLL_S, max(0.0, end - time.monotonic())))


def _check_workers(workers: int, base_batch: int) -> None:
    """Refuses more workers than the training set can give one sample each (every round needs them all)."""
    from stoker.train import digits

    n = len(digits.load()[0])
    if workers > n:
        raise InputError(f"--workers {workers} exceeds the {n} training samples (one each per round); lower it")
    if base_batch * workers > n:
        raise InputError(
            f"--base-batch {base_batch} x --workers {workers} = {base_batch * workers} exceeds the {n} training "
            "samples of one epoch; lower either"
        )


def _check_converged(stats: list[dict], base_lr: float) -> None:
    """A run whose loss became NaN or infinite learnt nothing: say so (status 2), never report it as done."""
    import math

    bad = [loss for s in stats for loss in s.get("losses", ()) if not math.isfinite(loss)]
    if bad:
        raise InputError(f"training diverged (loss {bad[0]}) with --base-lr {base_lr:g}; lower --base-lr")


def _run(args: argparse.Namespace) -> int:
    from stoker.train.ps.consistency import Consistency
    from stoker.train.ps.optim import OptimSpec
    from stoker.train.ps.recipe import Recipe, plan, train

    try:
        Consistency.parse(args.consistency)
    except ValueError as exc:
        raise InputError(f"--consistency: {exc}") from None
    if args.backend == "ray":
        wait_for_ray_cpus(args.shards, args.workers, args.resource_timeout)

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
    _check_workers(args.workers, args.base_batch)
    print(f"(1) parameter server: {args.shards} shards ({args.backend}), {args.workers} workers, " + args.consistency)
    try:
        p = plan(recipe)
    except ValueError as exc:  # the budget does not hold the model (batch_search names the bytes)
        raise InputError(f"--memory-budget-mib {args.memory_budget_mib:g}: {exc}") from None
    if p.batch < 1:
        raise InputError(
            f"--memory-budget-mib {args.memory_budget_mib:g} holds the model but not one sample's activations; raise it"
        )
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
    _check_converged(out.stats, args.base_lr)
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
    p.add_argument("--workers", type=int_between(1, MAX_PROCESSES), default=2, help="trainer processes")
    p.add_argument("--shards", type=int_between(1, MAX_PROCESSES), default=2, help="parameter-server shards")
    p.add_argument("--consistency", default="bsp", help="bsp, asp or ssp:S")
    p.add_argument("--backend", choices=("local", "ray"), default="local", help="shards as processes or Ray actors")
    p.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd", help="shard optimiser (sgd: momentum 0.9)")
    p.add_argument("--base-batch", type=positive_int, default=32, help="per-worker batch the base LR is tuned for")
    p.add_argument("--base-lr", type=float_between(0.0, MAX_LR), default=0.03, help="LR at the base batch")
    p.add_argument("--lr-rule", choices=("linear", "sqrt", "adascale"), default="linear", help="LR scaling rule")
    p.add_argument(
        "--warmup-epochs",
        type=float_between(0.0, MAX_WARMUP_EPOCHS, inclusive_low=True),
        default=5.0,
        help="gradual warm-up length",
    )
    p.add_argument(
        "--memory-budget-mib",
        type=float_between(0.0, MAX_BUDGET_MIB),
        default=None,
        help="device memory per worker (MiB); default: a device where the base batch just fits without swap",
    )
    p.add_argument("--no-swap", action="store_true", help="search the batch without activation swapping")
    p.add_argument("--epochs", type=positive_int, default=30)
    p.add_argument(
        "--resource-timeout",
        type=positive_float,
        default=60.0,
        help="with --backend ray: seconds to wait for free CPUs before giving up",
    )
    p.add_argument("--seed", type=non_negative_int, default=0)
    p.set_defaults(func=_run)
