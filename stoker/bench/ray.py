"""Real JPEG pipeline through stoker's Ray backend, Ray Data, and stoker's local backend, equal CPUs.

One Ray instance is started for the run (``address="local"``: never a cluster someone else runs
on this machine) with room for both Ray systems side by side; each is held to ``--cpus`` logical
CPUs (stoker: that many one-CPU worker actors; Ray Data: ``resource_limits.cpu``), and the local
backend runs that many worker processes. All three are treated alike: each is built once (stoker's
Loaders, Ray Data's Dataset) and warmed up with one untimed epoch; every round then runs one epoch
per system, interleaved: one warm-up batch (so epoch start-up is not counted for anyone), then
``--batches`` timed batches; medians over rounds are reported. (Ray Data launches its map tasks
anew each epoch, as it does when a trainer iterates a Dataset epoch after epoch.) Also
measured: the per-batch overhead of the Ray backend over the local one, on a pipeline that does
almost nothing but move 19 MB batches.

Last stdout line: ``{"cpus": n, "stoker_ray_sps": x, "ray_data_sps": x, "stoker_local_sps": x}``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

from stoker.bench._pipelines import decode_augment
from stoker.bench._util import bench_dir, emit, interleaved, machine
from stoker.commands._args import positive_int
from stoker.sample_data import make_jpeg_folder


def _time_batches(it: Iterable[Any], batches: int, batch_size: int) -> float:
    """Samples/s over ``batches`` batches after one warm-up batch."""
    iterator = iter(it)
    next(iterator)
    t0 = time.perf_counter()
    for _ in range(batches):
        batch = next(iterator)
        x = batch["image"] if isinstance(batch, dict) else batch[0]
        if x.shape[0] != batch_size:
            raise RuntimeError(f"short batch of {x.shape[0]}")
    return batches * batch_size / (time.perf_counter() - t0)


class _StokerRuns:
    """One stoker Loader kept across rounds; each call times one epoch."""

    def __init__(self, paths: list[str], backend: str, workers: int, batches: int, bs: int) -> None:
        import stoker

        pipe = stoker.from_files(paths).map(decode_augment).batch(bs)
        self.loader = stoker.Loader(pipe, workers=workers, backend=backend, seed=0)
        if backend == "ray":
            self.loader.pool.wait_ready(workers, timeout=120)  # type: ignore[union-attr]
        self.batches, self.bs = batches, bs

    def __call__(self) -> float:
        return _time_batches(self.loader, self.batches, self.bs)


def ray_data_batch(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The same per-sample work as :func:`decode_augment`, a new key per sample and epoch as a user's is."""
    from stoker.bench._util import user_seeded

    images, labels = [], []
    for path, idx in zip(batch["path"], batch["idx"]):
        with user_seeded(int(idx)):
            x, y = decode_augment(str(path))
        images.append(x.numpy())
        labels.append(y)
    return {"image": np.stack(images), "label": np.asarray(labels)}


class _RayDataRuns:
    """One Ray Data Dataset kept across rounds, like the Loaders; each call times one epoch."""

    def __init__(self, paths: list[str], batches: int, bs: int) -> None:
        import ray.data

        rows = [{"path": p, "idx": i} for i, p in enumerate(paths[: (batches + 1) * bs])]
        self.ds = ray.data.from_items(rows).map_batches(ray_data_batch, batch_size=bs, num_cpus=1)
        self.batches, self.bs = batches, bs

    def __call__(self) -> float:
        return _time_batches(self.ds.iter_torch_batches(batch_size=self.bs), self.batches, self.bs)


def blank(i: int) -> torch.Tensor:
    """A sample that costs nearly nothing to make, so a batch's time is the transport's."""
    return torch.zeros(3, 224, 224)


def _ms_per_batch(backend: str, batches: int, bs: int) -> float:
    import stoker

    pipe = stoker.from_items(list(range((batches + 1) * bs))).map(blank).batch(bs)
    with stoker.Loader(pipe, workers=1, backend=backend, seed=0) as loader:
        if backend == "ray":
            loader.pool.wait_ready(1, timeout=120)  # type: ignore[union-attr]
        it = iter(loader)
        next(it)
        t0 = time.perf_counter()
        for _ in range(batches):
            next(it)
        return (time.perf_counter() - t0) / batches * 1000.0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="stoker bench ray", description=__doc__)
    p.add_argument(
        "--quick", action="store_true", help="short run (under a minute on an idle 2-core machine; longer under load)"
    )
    p.add_argument("--cpus", type=positive_int, default=2, help="CPUs for each system (Ray's num_cpus, local workers)")
    p.add_argument("--batches", type=positive_int, default=None, help="timed batches per run")
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--repeats", type=positive_int, default=None, help="interleaved rounds")
    args = p.parse_args(argv)
    host = machine()
    batches = args.batches or (12 if args.quick else 40)
    repeats = args.repeats or (3 if args.quick else 5)
    bs, cpus = args.batch_size, args.cpus
    paths = make_jpeg_folder(bench_dir("jpegs"), (batches + 1) * bs)

    import ray

    # Room for stoker's actors and Ray Data's tasks at once; each is held to `cpus` below.
    ray.init(address="local", num_cpus=2 * cpus, include_dashboard=False, log_to_driver=False)
    runs: dict[str, Any] = {}
    try:
        import ray.data

        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        ctx.execution_options.resource_limits = ray.data.ExecutionResources.for_limits(cpu=cpus)
        print(f"{len(paths)} JPEGs, batch {bs}, {cpus} CPUs each, {batches} timed batches, {repeats} rounds")
        runs["stoker_ray"] = _StokerRuns(paths, "ray", cpus, batches, bs)
        runs["ray_data"] = _RayDataRuns(paths, batches, bs)
        runs["stoker_local"] = _StokerRuns(paths, "local", cpus, batches, bs)
        print("each system built once; warm-up: one untimed epoch each", flush=True)
        for run in runs.values():
            run()
        sps = interleaved(runs, repeats)
        for run in runs.values():
            if isinstance(run, _StokerRuns):
                run.loader.close()
        light = max(8, batches)
        ms = {b: min(_ms_per_batch(b, light, bs) for _ in range(1 if args.quick else 3)) for b in ("ray", "local")}
    finally:
        for run in runs.values():
            if isinstance(run, _StokerRuns):
                run.loader.close()
        ray.shutdown()
    overhead = {
        "light_ray_ms_per_batch": round(ms["ray"], 2),
        "light_local_ms_per_batch": round(ms["local"], 2),
        "light_overhead_ms_per_batch": round(ms["ray"] - ms["local"], 2),
        "jpeg_overhead_ms_per_batch": round(1000 * bs * (1 / sps["stoker_ray"] - 1 / sps["stoker_local"]), 2),
        "stoker_ray_vs_ray_data": round(sps["stoker_ray"] / sps["ray_data"], 2),
    }
    print(f"per-batch overhead of the Ray backend over the local one (batch {bs}): {json.dumps(overhead)}")
    emit(
        {
            "cpus": cpus,
            "stoker_ray_sps": round(sps["stoker_ray"], 1),
            "ray_data_sps": round(sps["ray_data"], 1),
            "stoker_local_sps": round(sps["stoker_local"], 1),
        },
        host,
    )
    return 0
