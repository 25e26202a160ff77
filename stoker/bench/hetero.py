"""``stoker bench hetero``: heterogeneous batch split for 3 Gavel tasks on a K80/P100/V100 mix.

Profiles come from Gavel's measured throughputs (memory estimated, see
:mod:`stoker.train.hetero.gavel`). Every policy places the same tasks on the same devices; the
round time (every task takes one step) is predicted by the round model of
:mod:`stoker.train.hetero.cost`. The full run adds 50 random 3-task mixes (ratio to the MILP
optimum: mean and worst) and an emulated run: a CNN profiled on this CPU, split over three simulated
devices (speed 1, 1/2, 1/4) by the balanced and the equal split, trained a few steps with
:class:`HeteroDataParallel`, and its emulated per-device times printed beside the prediction.
The emulated times are not a measurement of heterogeneous hardware: each replica's share runs on
this one CPU, one replica after another; its host time is divided by the device's simulated speed,
and the round is the largest of those per-device times.

Last stdout line: ``{"tasks": n, "devices": n, "step_s_policy": x, "step_s_equal": x, "step_s_optimal": x}``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path

from stoker.bench._util import emit, machine
from stoker.commands._args import positive_int
from stoker.errors import InputError
from stoker.gavel_data import GAVEL_FILE
from stoker.paths import data_file
from stoker.train.hetero import InfeasibleError, TaskSpec, allocate, evaluate
from stoker.train.hetero.gavel import gavel_devices, gavel_profiles, load_throughputs

TASKS = (("ResNet-50", 256), ("Transformer", 256), ("LM", 160))  # global batches, samples/step
MIX = {"k80": 2, "p100": 2, "v100": 2}
POLICIES = ("balanced", "equal", "per-type", "optimal")
_RANDOM_BATCH = {"ResNet-18": 64, "ResNet-50": 64, "Transformer": 64, "LM": 40, "Recommendation": 2048}


def headline(throughputs: dict) -> dict[str, float]:
    """Every policy on the fixed 3-task mix; prints a table and returns policy -> round time (s)."""
    tasks = [TaskSpec(m, b, gavel_profiles(m, throughputs)) for m, b in TASKS]
    devices = gavel_devices(MIX)
    print(f"tasks {[(t.name, t.global_batch) for t in tasks]} on {MIX}")
    rounds = {}
    for name in POLICIES:
        start = time.perf_counter()
        alloc = allocate(tasks, devices, name)
        took = time.perf_counter() - start
        ev = evaluate(alloc, tasks, devices)
        rounds[name] = ev.round_s
        worst_mem = max(ev.device_memory_bytes[d.name] / d.memory_bytes for d in devices)
        print(
            f"  {name:9s} predicted round {ev.round_s:.4f} s  memory <= {worst_mem:.0%} of a device  policy {took:.3f} s"
        )
        for d in devices:
            print(f"      {d.name:7s} {ev.device_busy_s[d.name]:.4f} s  {alloc.device_shares(d.name)}")
    print(
        f"balanced: {rounds['equal'] / rounds['balanced']:.2f}x faster than equal split, "
        f"{rounds['per-type'] / rounds['balanced']:.2f}x than one task per type, "
        f"{rounds['balanced'] / rounds['optimal']:.3f}x the MILP optimum"
    )
    return rounds


def random_mixes(throughputs: dict, trials: int, seed: int = 0) -> None:
    """Ratio of balanced to the optimum and of equal split to balanced over random 3-task mixes."""
    rng = random.Random(seed)
    to_opt: list[float] = []
    equal_over: list[float] = []
    equal_unfit = 0
    for _ in range(trials):
        models = rng.sample(sorted(_RANDOM_BATCH), 3)
        tasks = [TaskSpec(m, _RANDOM_BATCH[m] * rng.choice([1, 2, 4]), gavel_profiles(m, throughputs)) for m in models]
        devices = gavel_devices({k: rng.randint(1, 3) for k in ("k80", "p100", "v100")})
        r = {p: evaluate(allocate(tasks, devices, p), tasks, devices).round_s for p in ("balanced", "optimal")}
        to_opt.append(r["balanced"] / r["optimal"])
        try:
            equal_over.append(evaluate(allocate(tasks, devices, "equal"), tasks, devices).round_s / r["balanced"])
        except InfeasibleError:
            equal_unfit += 1  # an even share overflows some device's memory
    within = sum(x <= 1.1 for x in to_opt)
    print(
        f"{trials} random mixes: balanced/optimal mean {statistics.mean(to_opt):.3f} worst {max(to_opt):.3f} "
        f"({within}/{trials} within 1.1x); equal/balanced mean {statistics.mean(equal_over):.2f} "
        f"where the equal split fits memory (it does not in {equal_unfit})"
    )


def emulated(steps: int) -> None:
    """Profiles a CNN on this CPU, splits it over simulated devices and trains with both splits."""
    import torch

    # One intra-op thread: on a small shared machine two threads spin against other processes and
    # step times jump 100x between repeats; one thread gives steady, linear timings.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _emulated(steps)
    finally:
        torch.set_num_threads(threads)


def _emulated(steps: int) -> None:
    import torch
    from sklearn.datasets import load_digits
    from torch import nn

    from stoker.train.hetero import DeviceSpec, HeteroDataParallel, SimulatedDevice
    from stoker.train.profiling import ProfileTask, profile

    digits = load_digits()
    x = torch.tensor(digits.data, dtype=torch.float32).reshape(-1, 1, 8, 8) / 16
    y = torch.tensor(digits.target)

    def model() -> nn.Module:
        return nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(64 * 64, 10),
        )

    sims = [
        SimulatedDevice(f"sim-{name}", speed, 2**30)
        for name, speed in (("full", 1.0), ("half", 0.5), ("quarter", 0.25))
    ]
    task = ProfileTask("digits-cnn", model, lambda n: (x[:n], y[:n]))
    host = profile(task, "cpu", batch_sizes=(16, 32, 64, 128), repeats=7)
    profs = {s.name: s.scale(host) for s in sims}
    print(
        f"  {host.task} on this CPU: step {host.step_fixed_s * 1e3:.2f} ms "
        f"+ {host.step_per_sample_s * 1e3:.4f} ms/sample"
    )
    spec = [TaskSpec("digits-cnn", 224, profs)]
    devices = [DeviceSpec(s.name, s.name, s.memory_bytes) for s in sims]
    runs: dict[str, tuple] = {}
    for name in ("balanced", "equal"):
        alloc = allocate(spec, devices, name)
        net = model()
        dp = HeteroDataParallel.from_allocation(
            net, torch.optim.SGD(net.parameters(), lr=0.05), alloc.task_shares("digits-cnn"), {s.name: s for s in sims}
        )
        runs[name] = (alloc, evaluate(alloc, spec, devices), dp, [])
    # Both splits step in turn on the same batches, so load from other processes hits them alike;
    # each device's median over steps drops the odd preempted step before taking the slowest device.
    for i in range(steps):
        idx = torch.arange(i * 224, (i + 1) * 224) % len(x)
        for _alloc, _pred, dp, times in runs.values():
            dp.step(x[idx], y[idx])
            times.append(list(dp.last_device_s))
    emulated_s = {}
    for name, (alloc, predicted, _dp, times) in runs.items():
        per_device = [statistics.median(col) for col in zip(*times[1:])]  # step 0 warms the allocator up
        emulated_s[name] = max(per_device)
        print(
            f"  emulated {name:8s} shares {alloc.task_shares('digits-cnn')}: predicted round "
            f"{predicted.round_s:.4f} s, emulated slowest device {emulated_s[name]:.4f} s "
            f"(per device {[round(t, 4) for t in per_device]})"
        )
    print(
        f"  equal/balanced: predicted {runs['equal'][1].round_s / runs['balanced'][1].round_s:.2f}x, "
        f"emulated {emulated_s['equal'] / emulated_s['balanced']:.2f}x "
        "(host CPU time / simulated speed, replicas run one after another, round = slowest device)"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="stoker bench hetero", description=__doc__)
    p.add_argument("--quick", action="store_true", help="only the fixed 3-task mix (seconds)")
    p.add_argument("--data-dir", type=Path, default=None, help="folder with gavel_isolated_throughputs.json")
    p.add_argument("--trials", type=positive_int, default=50, help="random mixes in the full run")
    args = p.parse_args(argv)
    source = args.data_dir / GAVEL_FILE if args.data_dir else data_file(GAVEL_FILE)
    if not source.is_file():
        raise InputError(f"--data-dir: no {GAVEL_FILE} in {str(source.parent)!r}; point it there")
    host = machine()
    throughputs = load_throughputs(source)
    rounds = headline(throughputs)
    if not args.quick:
        random_mixes(throughputs, args.trials)
        emulated(steps=15)
    devices = sum(MIX.values())
    emit(
        {
            "tasks": len(TASKS),
            "devices": devices,
            "step_s_policy": round(rounds["balanced"], 6),
            "step_s_equal": round(rounds["equal"], 6),
            "step_s_optimal": round(rounds["optimal"], 6),
        },
        host,
    )
    return 0
