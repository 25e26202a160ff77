"""``stoker bench ps``: baseline batch vs the swap-searched large batch with a scaled LR.

On scikit-learn's ``load_digits`` (held-out 20 % test split), the parameter server trains the same
model twice per seed: with the base per-worker batch (32, the largest that fits the worker's
memory budget without swap) at the base LR, and with the largest batch that fits with activation
swapping at the LR the rule scales to it. Reports mean test accuracy over seeds and push/pull
rounds per epoch. The last stdout line is one JSON object.

``batch_large`` and ``swap_batch_ratio`` are the memory model's prediction
(:func:`stoker.train.batch_search.find_max_batch`), not a measurement: on the CPU ``SwapToHost`` moves
nothing (it keeps every tensor and only counts the bytes), and the "device" budget is set so that
batch 32 is exactly the largest that fits without swapping. Accuracies and rounds are measured.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

from stoker.bench._util import emit, machine
from stoker.commands._args import positive_float, positive_int
from stoker.train.ps.recipe import Recipe, plan, train


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="stoker bench ps", description=__doc__.splitlines()[0])
    ap.add_argument(
        "--quick", action="store_true", help="3 seeds (under a minute on an idle 2-core machine; longer under load)"
    )
    ap.add_argument("--seeds", type=positive_int, default=None, help="seeds to average (default 3 quick, 5 full)")
    ap.add_argument("--epochs", type=positive_int, default=30)
    ap.add_argument("--workers", type=positive_int, default=2)
    ap.add_argument("--base-lr", type=positive_float, default=0.03)
    ap.add_argument("--lr-rule", choices=("linear", "sqrt", "adascale"), default="linear")
    args = ap.parse_args(argv)
    host = machine()
    seeds = args.seeds or (3 if args.quick else 5)
    acc: dict[str, list[float]] = {"small": [], "large": []}
    t0 = time.perf_counter()
    for seed in range(seeds):
        common = Recipe(seed=seed, epochs=args.epochs, workers=args.workers, base_lr=args.base_lr, lr_rule=args.lr_rule)
        small = dataclasses.replace(common, swap=False, batch=common.base_batch)
        large = dataclasses.replace(common, swap=True)
        p_small, p_large = plan(small), plan(large)
        acc["small"].append(train(small, p_small).accuracy)
        out_large = train(large, p_large)
        acc["large"].append(out_large.accuracy)
        print(
            f"seed {seed}: batch {p_small.batch} -> {acc['small'][-1]:.2f}%, "
            f"batch {p_large.batch} at lr {out_large.stats[0]['last_lr']:.4f} "
            f"-> {acc['large'][-1]:.2f}%",
            flush=True,
        )
    print(f"{seeds} seeds x 2 runs in {time.perf_counter() - t0:.1f} s")
    print(
        f"batch {p_large.batch} with swap ({p_large.fit.swap_batch_ratio:.2f}x batch {p_small.batch}) is the memory "
        "model's prediction, not a measurement: on the CPU SwapToHost moves nothing, and the device budget "
        f"({p_large.fit.budget_bytes / 2**20:.3f} MiB) is set so that batch {p_small.batch} just fits without swap"
    )
    result = {
        "batch_small": p_small.batch,
        "batch_large": p_large.batch,
        "acc_small": round(statistics.mean(acc["small"]), 2),
        "acc_large": round(statistics.mean(acc["large"]), 2),
        "rounds_small": p_small.rounds_per_epoch,
        "rounds_large": p_large.rounds_per_epoch,
        "swap_batch_ratio": round(p_large.fit.swap_batch_ratio, 2),
    }
    emit(result, host)
    return 0
