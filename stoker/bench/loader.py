"""Real JPEG pipeline: stoker vs ``torch.utils.data.DataLoader`` at equal workers, and in-process.

Each configuration builds its loader, pulls one warm-up batch (so process start-up is not
counted for either), then times ``--batches`` batches; rounds are interleaved and medians
reported. Last stdout line:
``{"workers": [1, 2], "stoker_sps": {...}, "dataloader_sps": {...}, "single_process_sps": x,
"stream_stoker_sps": {...}, "stream_dataloader_sps": {...}, "metrics_overhead": x}``. The ``stream_`` figures read the same
JPEGs from WebDataset tar shards: stoker's ``from_shards`` against ``DataLoader`` over an
``IterableDataset`` sharded by ``get_worker_info()`` (:mod:`stoker.bench._streams`). The stoker
loader with the most workers also runs with Prometheus metrics on (``/metrics`` scraped every 0.5 s
by another process, far more often than Prometheus' usual 15 s), interleaved with the same loader
off; ``metrics_overhead`` is off/on samples/s, the median of the per-round ratios.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

import torch
from torch.utils.data import default_collate

from stoker.bench._pipelines import JpegDataset
from stoker.bench._streams import TarJpegStream, decode_sample, write_jpeg_shards
from stoker.bench._util import bench_dir, emit, interleaved, machine
from stoker.commands._args import non_negative_int, positive_int
from stoker.sample_data import make_jpeg_folder


def _time_batches(it: Iterable[Any], batches: int, batch_size: int) -> float:
    """Samples/s over ``batches`` batches after one warm-up batch."""
    iterator = iter(it)
    next(iterator)
    t0 = time.perf_counter()
    for _ in range(batches):
        x, _y = next(iterator)
        if x.shape[0] != batch_size:
            raise RuntimeError(f"short batch of {x.shape[0]}")
    return batches * batch_size / (time.perf_counter() - t0)


def _single(ds: JpegDataset, batches: int, bs: int) -> float:
    def gen() -> Iterable[Any]:
        for b in range(batches + 1):
            yield default_collate([ds[i] for i in range(b * bs, (b + 1) * bs)])

    return _time_batches(gen(), batches, bs)


def _dataloader(ds: JpegDataset, workers: int, batches: int, bs: int) -> float:
    dl = torch.utils.data.DataLoader(ds, batch_size=bs, num_workers=workers, prefetch_factor=2)
    return _time_batches(dl, batches, bs)


def _stoker(ds: JpegDataset, workers: int, batches: int, bs: int, metrics: bool = False) -> float:
    import stoker

    port = 0 if metrics else None
    with stoker.Loader(stoker.from_dataset(ds).batch(bs), workers=workers, seed=0, metrics_port=port) as loader:
        if not metrics:
            return _time_batches(loader, batches, bs)
        with _Scraper(str(loader.metrics_address)):
            return _time_batches(loader, batches, bs)


_SCRAPE_LOOP = """
import sys, time, urllib.request
while True:
    urllib.request.urlopen(sys.argv[1], timeout=5).read()
    time.sleep(float(sys.argv[2]))
"""


class _Scraper:
    """Scrapes a loader's /metrics every ``period`` seconds from another process, as Prometheus does.

    Only the loader's side of a scrape (the collector, the HTTP answer) lands in the trainer's
    process; the client's own cost is elsewhere, as it would be on a Prometheus server.
    """

    def __init__(self, address: str, period: float = 0.5) -> None:
        self.cmd = [sys.executable, "-c", _SCRAPE_LOOP, address + "/metrics", str(period)]
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> _Scraper:
        self._proc = subprocess.Popen(self.cmd)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait()


def _recorded(fn: Callable[[], float], into: list[float]) -> Callable[[], float]:
    def run() -> float:
        into.append(fn())
        return into[-1]

    return run


def _metrics_overhead(off: list[float], on: list[float], workers: int) -> float:
    """Median per-round off/on ratio (> 1: slower with metrics on), printed with its range."""
    ratios = [a / b for a, b in zip(off, on)]
    overhead = statistics.median(ratios)
    print(
        f"metrics on vs off (workers={workers}, {len(ratios)} rounds): off/on median {overhead:.3f}, "
        f"min {min(ratios):.3f}, max {max(ratios):.3f}"
    )
    return overhead


def _stream_dataloader(shards: list[str], workers: int, batches: int, bs: int) -> float:
    dl = torch.utils.data.DataLoader(TarJpegStream(shards), batch_size=bs, num_workers=workers, prefetch_factor=2)
    return _time_batches(dl, batches, bs)


def _stream_stoker(shards: list[str], num_shards: int, workers: int, batches: int, bs: int) -> float:
    import stoker

    pipe = stoker.from_shards(shards, num_shards=num_shards).map(decode_sample).batch(bs)
    with stoker.Loader(pipe, workers=workers, seed=0) as loader:
        return _time_batches(loader, batches, bs)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="stoker bench loader", description=__doc__)
    p.add_argument(
        "--quick", action="store_true", help="short run (under a minute on an idle 2-core machine; longer under load)"
    )
    p.add_argument("--workers", type=non_negative_int, nargs="+", default=[1, 2])
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--batches", type=positive_int, default=None, help="timed batches per run")
    p.add_argument("--repeats", type=positive_int, default=None)
    p.add_argument("--images", type=positive_int, default=512, help="distinct JPEG files")
    p.add_argument(
        "--metrics-only", action="store_true", help="only stoker with metrics on vs off (at the most workers)"
    )
    args = p.parse_args(argv)
    host = machine()
    batches = args.batches or (16 if args.quick else 40)
    repeats = args.repeats or (3 if args.quick else 5)
    paths = make_jpeg_folder(bench_dir("jpegs"), args.images)
    need = (batches + 1) * args.batch_size
    ds = JpegDataset([paths[i % len(paths)] for i in range(need)])
    print(
        f"stoker bench loader: {len(paths)} JPEGs, batch {args.batch_size}, {batches} timed batches, "
        f"{repeats} interleaved rounds, torch threads {torch.get_num_threads()}",
        flush=True,
    )
    top = max(args.workers)
    off: list[float] = []
    on: list[float] = []
    metrics_runs = {
        f"stoker-{top}": _recorded(partial(_stoker, ds, top, batches, args.batch_size), off),
        f"metrics-{top}": _recorded(partial(_stoker, ds, top, batches, args.batch_size, True), on),
    }
    if args.metrics_only:
        med = interleaved(metrics_runs, repeats)
        overhead = _metrics_overhead(off, on, top)
        emit(
            {
                "workers": [top],
                "stoker_sps": {str(top): round(med[f"stoker-{top}"], 1)},
                "metrics_sps": {str(top): round(med[f"metrics-{top}"], 1)},
                "metrics_overhead": round(overhead, 4),
            },
            host,
        )
        return 0
    runs: dict[str, Callable[[], float]] = {"single": partial(_single, ds, batches, args.batch_size)}
    for w in args.workers:
        runs[f"dataloader-{w}"] = partial(_dataloader, ds, w, batches, args.batch_size)
        runs[f"stoker-{w}"] = partial(_stoker, ds, w, batches, args.batch_size)
    runs.update(metrics_runs)
    # Streaming: 4 files per worker of the widest run, each shard a whole number of batches and
    # enough of them that no reader reaches its end within the timed batches.
    per_file = args.batch_size * -(-(batches + 2) // 4 + 1)
    shard_files = write_jpeg_shards(bench_dir("jpeg-shards"), paths, per_file * 4 * max(args.workers), per_file)
    for w in args.workers:
        runs[f"stream-dataloader-{w}"] = partial(_stream_dataloader, shard_files, w, batches, args.batch_size)
        runs[f"stream-stoker-{w}"] = partial(
            _stream_stoker, shard_files, 2 * max(args.workers), w, batches, args.batch_size
        )
    med = interleaved(runs, repeats)
    overhead = _metrics_overhead(off, on, top)
    single = med["single"]
    for w in args.workers:
        s, d = med[f"stoker-{w}"], med[f"dataloader-{w}"]
        print(
            f"workers={w}: stoker {s:.0f} sps, DataLoader {d:.0f} sps, ratio {s / d:.2f}x; "
            f"stoker / ({w} x single) = {s / (w * single):.2f}"
        )
        s, d = med[f"stream-stoker-{w}"], med[f"stream-dataloader-{w}"]
        print(
            f"workers={w}, tar shards: stoker {s:.0f} sps, DataLoader(IterableDataset) {d:.0f} sps, ratio {s / d:.2f}x"
        )
    emit(
        {
            "workers": args.workers,
            "stoker_sps": {str(w): round(med[f"stoker-{w}"], 1) for w in args.workers},
            "dataloader_sps": {str(w): round(med[f"dataloader-{w}"], 1) for w in args.workers},
            "single_process_sps": round(single, 1),
            "stream_stoker_sps": {str(w): round(med[f"stream-stoker-{w}"], 1) for w in args.workers},
            "stream_dataloader_sps": {str(w): round(med[f"stream-dataloader-{w}"], 1) for w in args.workers},
            "metrics_overhead": round(overhead, 4),
        },
        host,
    )
    return 0
