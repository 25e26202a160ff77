"""Autoscaling against a simulated accelerator whose step time changes mid-run.

The trainer's "step" sleeps T ms per batch (an accelerator busy while the CPU is free) and
consumes the real JPEG pipeline from ``stoker.Loader(workers="auto")``. T goes slow -> fast ->
slow, chosen from a one-worker calibration so that the phases need 1, 2, 1 workers on this
machine. ``ideal_s`` is the time a perfectly fed trainer would take, or the CPU limit (cores x
the calibrated one-worker rate) where that binds. The autoscaler may start up to cores + 2
workers, so over-provisioning is possible and shows in ``workers_used_max``. The clock starts once
the Loader is built (its worker pool is up), as with persistent DataLoader workers. Last stdout line:
``{"ideal_s": x, "wall_s": x, "workers_used_max": n, "workers_needed": n, "reconverge_s": x}``.
"""

from __future__ import annotations

import argparse
import math
import time

from stoker.bench._pipelines import decode_augment
from stoker.bench._util import bench_dir, emit, machine
from stoker.commands._args import positive_int
from stoker.sample_data import make_jpeg_folder
from stoker.system import cpu_count


def _pipeline(paths: list[str], batch: int):
    import stoker

    return stoker.from_files(paths).shuffle(seed=0).map(decode_augment).batch(batch, drop_last=True)


def _calibrate(paths: list[str], batch: int, batches: int) -> float:
    """Seconds one worker needs per batch, measured with a trainer that never waits on itself."""
    import stoker

    with stoker.Loader(_pipeline(paths, batch), workers=1, seed=0) as loader:
        it = iter(loader)
        next(it)
        t0 = time.perf_counter()
        for _ in range(batches):
            next(it)
        return (time.perf_counter() - t0) / batches


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="stoker bench elastic", description=__doc__)
    p.add_argument(
        "--quick", action="store_true", help="short run (under a minute on an idle 2-core machine; longer under load)"
    )
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--steps", type=positive_int, nargs=3, default=None, help="steps in the slow, fast, slow phases")
    p.add_argument("--images", type=positive_int, default=512)
    p.add_argument("--verbose", action="store_true", help="print the autoscaler's decisions")
    args = p.parse_args(argv)
    host = machine()
    import stoker

    cores = cpu_count()
    steps = args.steps or ([60, 160, 60] if args.quick else [150, 400, 150])
    paths = make_jpeg_folder(bench_dir("jpegs"), args.images)
    paths = [paths[i % len(paths)] for i in range(args.batch_size * (sum(steps) + 8))]
    per_batch = _calibrate(paths, args.batch_size, 8 if args.quick else 20)
    # Slow phases need one worker, the fast one needs two (never more than the cores can run).
    fast_workers = min(2, cores)
    step_s = [1.6 * per_batch, per_batch / fast_workers / 0.77, 1.6 * per_batch]
    needed = [math.ceil(per_batch / t) for t in step_s]
    cpu_limit_s = per_batch / cores
    ideal = sum(n * max(t, cpu_limit_s) for n, t in zip(steps, step_s))
    print(
        f"stoker bench elastic: one worker makes a batch of {args.batch_size} in {per_batch * 1000:.0f} ms; "
        f"step times {[round(t * 1000) for t in step_s]} ms need {needed} workers; "
        f"{cores} cores, autoscaler allowed up to {cores + 2} workers",
        flush=True,
    )
    # Two workers more than cores: capped at the core count, a 2-core machine could never show more
    # than needed + 0 workers, and the "at most one more than needed" check could not fail.
    max_workers = cores + 2
    with stoker.Loader(_pipeline(paths, args.batch_size), workers="auto", seed=0, max_workers=max_workers) as loader:
        it = iter(loader)
        t0 = time.perf_counter()
        changes = []
        for phase, (n, t) in enumerate(zip(steps, step_s)):
            changes.append(time.perf_counter() - t0)
            for _ in range(n):
                next(it)
                time.sleep(t)  # the simulated accelerator: busy for t, no CPU used
            s = loader.stats()
            print(
                f"  phase {phase}: step {t * 1000:.0f} ms x {n}, workers now {s['workers']}, "
                f"data wait so far {s['wait_fraction']:.1%}",
                flush=True,
            )
        wall = time.perf_counter() - t0
        final = loader.stats()
        timeline = final["workers_timeline"]
        if args.verbose:
            for entry in final["autoscaler_log"]:
                print("   ", entry)
    # Timeline times are from the Loader's start; shift them to the benchmark clock.
    offset = timeline[0][0]
    reconverge = 0.0
    for phase in (1, 2):
        start, end = changes[phase], changes[phase + 1] if phase + 1 < len(changes) else wall
        moves = [tt - offset for tt, _ in timeline if start <= tt - offset < end]
        if moves:
            reconverge = max(reconverge, moves[-1] - start)
    used_max = max(n for _, n in timeline)
    print(
        f"wall {wall:.1f} s vs ideal {ideal:.1f} s ({wall / ideal:.3f}x); workers used max {used_max}, "
        f"needed {max(needed)}, allowed {max_workers}; timeline {timeline}"
    )
    emit(
        {
            "ideal_s": round(ideal, 2),
            "wall_s": round(wall, 2),
            "workers_used_max": used_max,
            "workers_needed": max(needed),
            "reconverge_s": round(reconverge, 2),
        },
        host,
    )
    return 0
