"""A training job as its own driver process: a real CPU-bound pipeline on Ray data workers and a Loader that
joins the cluster controller (``cluster=NAME``). Two kinds (``--kind``):

- ``spin``: the pipeline spins ``--cpu-ms`` per sample, the accelerator is simulated (a step is a sleep);
- ``train``: the demo's JPEG pipeline (decode, random-resized crop, flip: :func:`stoker.demo.decode_crop`)
  feeds the demo's small CNN, trained on this process's CPU with SGD, so trainer and data workers really
  compete for the machine's cores.

With ``--mode FILE`` the job reads FILE (a word) every half second: ``none`` lifts the controller's cap to
``--cap`` workers (no controller: its own autoscaler takes what Ray gives it); anything else leaves the
budget to the controller.

Run as ``python -m stoker.bench._cluster_job --address ADDR --name NAME --out FILE --stop FILE``. It trains
epoch after epoch until the file ``--stop`` exists (finishing the epoch it is in), and writes one JSON line
per epoch (the sample indices it got, in order, and the time it ended) and a last line with what its log
said about the controller. ``stoker bench cluster_live`` and the integration tests read the lines: every
epoch must hold every sample exactly once, and epoch ends over time give the job's samples/s.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import time
from pathlib import Path

import ray
import torch

import stoker
from stoker.demo import SmallCNN, decode_crop
from stoker.sample_data import make_jpeg_folder


def decode_indexed(path: str) -> tuple[torch.Tensor, int, int]:
    """One JPEG of the demo's folder decoded and augmented, with its label and its index (from its name)."""
    img, label = decode_crop(path)
    return img, label, int(Path(path).stem.split("_", 1)[0])


def spin(cpu_s: float):
    """A sample that costs ``cpu_s`` seconds of CPU (a decode stand-in), returning its index."""

    def fn(i: int) -> int:
        end = time.process_time() + cpu_s
        while time.process_time() < end:
            pass
        return i

    return fn


class Tally(logging.Handler):
    """Counts what the Loader's membership said: joins and lost controllers."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.joined = 0
        self.lost = 0

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.getMessage()
        self.joined += "joined the cluster controller" in msg
        self.lost += "cannot reach the cluster controller" in msg


def _sleeper(step_s: float):
    """A simulated accelerator step: the batch holds sample indices; the step sleeps."""

    def step(batch: torch.Tensor) -> list[int]:
        time.sleep(step_s)
        return [int(i) for i in batch.tolist()]

    return step


def _trainer():
    """A real training step of the demo's CNN on this process's CPU (SGD, cross-entropy)."""
    model = SmallCNN()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

    def step(batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> list[int]:
        x, y, idx = batch
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return [int(i) for i in idx.tolist()]

    return step


class _Mode:
    """Reads the bench's mode file at most every half second (a stat per batch would be noise)."""

    def __init__(self, path: str | None) -> None:
        self.path = Path(path) if path else None
        self._next = 0.0
        self._none = False

    def none(self) -> bool:
        if self.path is None:
            return False
        now = time.monotonic()
        if now >= self._next:
            self._next = now + 0.5
            try:
                self._none = self.path.read_text().strip() == "none"
            except OSError:
                self._none = False
        return self._none


class _Start:
    """When the profile schedule starts: now (no file given), or the time written in the file once it exists."""

    def __init__(self, path: str | None) -> None:
        self.path = Path(path) if path else None
        self._at = time.time() if self.path is None else math.inf
        self._next = 0.0

    def at(self) -> float:
        if math.isinf(self._at) and self.path is not None and time.monotonic() >= self._next:
            self._next = time.monotonic() + 0.5
            with contextlib.suppress(OSError, ValueError):
                self._at = float(self.path.read_text())
        return self._at


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--address", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--stop", required=True, help="train until this file exists")
    p.add_argument("--samples", type=int, default=48)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--cpu-ms", type=float, default=10.0, help="CPU per sample, ms")
    p.add_argument("--step-ms", type=float, default=5.0, help="accelerator step per batch, ms")
    p.add_argument("--max-epochs", type=int, default=100_000)
    p.add_argument("--prefetch", type=int, default=2, help="splits in flight per data worker")
    p.add_argument("--kind", choices=("spin", "train"), default="spin", help="see the module docstring")
    p.add_argument("--data", help="folder of the demo's JPEGs (--kind train; made if missing)")
    p.add_argument("--mode", help="file saying 'none' while the job should run without the controller's cap")
    p.add_argument("--cap", type=int, default=64, help="workers the job may run with no controller")
    p.add_argument(
        "--profile",
        help="no controller, no autoscaler: run at each of these worker counts (comma-separated) for --hold s",
    )
    p.add_argument("--hold", type=float, default=15.0, help="seconds per worker count with --profile")
    p.add_argument(
        "--profile-at",
        help="file that will hold the wall-clock time (time.time()) the --profile schedule starts at; until it "
        "exists the job runs at the first count (several jobs reading one file change their counts in step)",
    )
    args = p.parse_args()
    tally = Tally()
    log = logging.getLogger("stoker")
    log.addHandler(tally)
    log.setLevel(logging.INFO)
    ray.init(address=args.address, logging_level=logging.ERROR, log_to_driver=False)
    if args.kind == "train":
        if not args.data:
            raise SystemExit("--kind train needs --data FOLDER")
        torch.set_num_threads(1)  # one core for the trainer, as the demo: the data workers get the rest
        torch.manual_seed(0)
        paths = make_jpeg_folder(args.data, args.samples, seed=0)
        pipe = stoker.from_files(paths).shuffle(seed=1).map(decode_indexed).batch(args.batch)
        step = _trainer()
    else:
        pipe = stoker.from_items(list(range(args.samples))).shuffle(seed=1).map(spin(args.cpu_ms / 1000))
        pipe = pipe.batch(args.batch)
        step = _sleeper(args.step_ms / 1000)
    out = Path(args.out)
    mode = _Mode(args.mode)
    counts = [int(x) for x in args.profile.split(",")] if args.profile else []
    with stoker.Loader(
        pipe,
        workers=counts[0] if counts else "auto",
        backend="ray",
        cluster=False if counts else args.name,
        seed=0,
        interval=0.25,
        prefetch=args.prefetch,
    ) as loader:
        with out.open("a") as f:
            f.write(json.dumps({"start": time.time()}) + "\n")
        cap, budget_changes = loader.max_workers, 0
        start = _Start(args.profile_at)
        for epoch in range(args.max_epochs):
            got: list[int] = []
            for batch in loader:
                got.extend(step(batch))
                if counts:
                    k = min(len(counts) - 1, int(max(0.0, (time.time() - start.at()) / args.hold)))  # -inf: not yet
                    if counts[k] != loader.workers:
                        loader.scale(counts[k])
                elif mode.none() and loader.max_workers != args.cap:
                    loader.set_budget(args.cap)
                elif loader.max_workers != cap:
                    budget_changes += 0 if args.cap in (cap, loader.max_workers) else 1  # not mode switches
                cap = loader.max_workers
            stats = loader.stats()
            line = {
                "epoch": epoch,
                "indices": got,
                "t": time.time(),
                "budget": stats["max_workers"],  # the controller's budget caps the autoscaler
                "autoscale": stats["autoscale"],
                "workers": stats["workers"],
            }
            with out.open("a") as f:
                f.write(json.dumps(line) + "\n")
            if Path(args.stop).exists() or (counts and time.time() - start.at() > args.hold * len(counts)):
                break
        changes = len(loader.stats()["workers_timeline"]) - 1
    with out.open("a") as f:
        f.write(
            json.dumps(
                {
                    "done": True,
                    "joined": tally.joined,
                    "lost": tally.lost,
                    "worker_changes": changes,
                    "budget_changes": budget_changes,
                }
            )
            + "\n"
        )
    ray.shutdown()


if __name__ == "__main__":
    main()
