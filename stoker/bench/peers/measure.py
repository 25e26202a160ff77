"""One measured run of one system on one pipeline, in its own process (so its memory is its own).

The clock starts when the loader is built (inputs are made before) and stops after the last batch
of the last epoch. A thread samples the proportional set size (PSS) of this process and all its
descendants every 50 ms: pages shared between the trainer and its workers count once in total.
Every sample of every batch is summed to an int; an epoch's sorted sums are its fingerprint, and
two equal fingerprints mean the system served the same augmentation twice.
"""

from __future__ import annotations

import importlib
import itertools
import threading
import time
from dataclasses import asdict, dataclass, field

import torch

from stoker.bench._memory import footprint
from stoker.bench.peers import data as d
from stoker.bench.peers.systems import LIBRARIES, SYSTEMS


class PeakPss:
    """Samples the PSS of this process tree in a thread until :meth:`stop`; peak in bytes."""

    def __init__(self, period: float = 0.05) -> None:
        self.peak = 0
        self._period = period
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pss-sampler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, footprint().tree_pss)
            self._done.wait(self._period)

    def stop(self) -> int:
        self._done.set()
        self._thread.join()
        return self.peak


@dataclass
class Measured:
    """One run's figures (seconds, samples, bytes)."""

    system: str
    pipeline: str
    samples: list[int] = field(default_factory=list)  # per epoch
    seconds: list[float] = field(default_factory=list)  # per epoch, the first from building
    first_batch_s: float = 0.0
    pss_bytes: int = 0
    random_per_epoch: bool = False

    @property
    def sps_from_build(self) -> float:
        return sum(self.samples) / sum(self.seconds)

    @property
    def sps(self) -> float:
        """Steady samples/s: the epochs after the first (all of them with one epoch)."""
        later = slice(1, None) if len(self.seconds) > 1 else slice(None)
        return sum(self.samples[later]) / sum(self.seconds[later])

    def record(self) -> dict[str, object]:
        return {**asdict(self), "sps": self.sps, "sps_from_build": self.sps_from_build}


def measure(system: str, inputs: d.Inputs, epochs: int, workers: int) -> Measured:
    out = Measured(system, inputs.name)
    build = SYSTEMS.lookup(system)
    if system in LIBRARIES:
        importlib.import_module(LIBRARIES[system])
    pss = PeakPss()
    prints = []
    t0 = start = time.perf_counter()
    run = build(inputs, workers)
    try:
        for _ in range(epochs):
            sums: list[int] = []
            for batch in run.epoch():
                if not out.first_batch_s:
                    out.first_batch_s = time.perf_counter() - t0
                sums.extend(batch.reshape(batch.shape[0], -1).sum(1, dtype=torch.int64).tolist())
            now = time.perf_counter()
            out.seconds.append(now - start)
            out.samples.append(len(sums))
            prints.append(sorted(sums))
            start = now
    finally:
        run.close()
        out.pss_bytes = pss.stop()
    out.random_per_epoch = all(a != b for a, b in itertools.pairwise(prints))
    return out
