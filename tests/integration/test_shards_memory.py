"""Bounded memory: streaming shard files several times the memory bound keeps every process under it.

The issue's figure: peak RSS of the trainer and of each worker stays under 1 GiB while a data set
five times that size streams through. ``STOKER_STREAM_GIB`` sets the data set size (default a
short form, 0.4 GiB); at any size the test also holds each process's growth above its own
warmed-up RSS (taken once an eighth of the data has streamed: every shard open, pyarrow's pool
warm) under a fifth of the data set. Run the full figure with ``STOKER_STREAM_GIB=5``.
"""

import concurrent.futures
import multiprocessing
import os
import threading

import psutil
import pytest

import stoker
from tests.common.shards import payload_tensor, write_big_shards

GIB = 1 << 30
SIZE = int(float(os.environ.get("STOKER_STREAM_GIB", "0.4")) * GIB)
SAMPLE = 256 << 10


class PeakRss:
    """Samples the RSS of the trainer and of the loader's workers every 20 ms; keeps each pid's peak
    and, from :meth:`mark`, a baseline to measure growth from."""

    def __init__(self, loader: stoker.Loader) -> None:
        self.loader = loader
        self.peak: dict[int, int] = {}
        self.baseline: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _pids(self) -> list[int]:
        return [os.getpid(), *self.loader.pool.pids().values()]

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            for pid in self._pids():
                try:
                    rss = psutil.Process(pid).memory_info().rss
                except psutil.Error:
                    continue
                self.peak[pid] = max(self.peak.get(pid, 0), rss)

    def mark(self) -> None:
        """Takes each process's RSS now as the baseline its growth is measured from."""
        for pid in self._pids():
            try:
                self.baseline[pid] = psutil.Process(pid).memory_info().rss
            except psutil.Error:
                continue

    def __enter__(self) -> "PeakRss":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _stream(folder: str, kind: str, samples: int) -> tuple[int, int, dict[int, int], dict[int, int]]:
    """Streams the shards through a Loader in this process; returns counts, peaks and baselines."""
    pipe = stoker.from_shards(os.path.join(folder, f"*.{kind}"), num_shards=4).map(payload_tensor).batch(8)
    with stoker.Loader(pipe, workers=2, seed=0) as loader:
        it = iter(loader)
        first = next(it)  # warm: workers started, first shards open
        seen, streamed = len(first["idx"]), first["bin"].numel()
        del first
        with PeakRss(loader) as rss:
            for batch in it:
                if seen < samples // 8 <= seen + len(batch["idx"]):
                    rss.mark()
                seen += len(batch["idx"])
                streamed += batch["bin"].numel()
                del batch
    return seen, streamed, rss.peak, rss.baseline


@pytest.mark.soak
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("kind", ["tar", "parquet"])
def test_streaming_five_times_the_bound_keeps_every_process_under_it(kind, tmp_path) -> None:
    folder = str(tmp_path / kind)
    samples = write_big_shards(folder, kind, SIZE, SAMPLE, file_bytes=64 << 20)
    # The trainer is a fresh process, as a user's would be: the pytest process carries every module and
    # object earlier tests loaded (Ray, the graph corpus), which says nothing about streaming.
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as ex:
        seen, streamed, peaks, baselines = ex.submit(_stream, folder, kind, samples).result()
    assert seen == samples and streamed == samples * SAMPLE
    print(f"\n{kind}: streamed {streamed / GIB:.2f} GiB; peak RSS MiB by pid:", {p: v >> 20 for p, v in peaks.items()})
    for pid, peak in peaks.items():
        assert peak < GIB, f"pid {pid} peaked at {peak >> 20} MiB streaming {streamed >> 20} MiB"
        grew = peak - baselines.get(pid, peak)
        assert grew < SIZE // 5, f"pid {pid} grew {grew >> 20} MiB after warm-up"
