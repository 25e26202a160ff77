"""A training job as its own driver process: a real CPU-bound pipeline on Ray data workers, a Loader that
joins the cluster controller (``cluster=NAME``), and a simulated accelerator (a step is a sleep).

Run as ``python -m stoker.bench._cluster_job --address ADDR --name NAME --out FILE --stop FILE``. It trains
epoch after epoch until the file ``--stop`` exists (finishing the epoch it is in), and writes one JSON line
per epoch (the sample indices it got, in order, and the time it ended) and a last line with what its log
said about the controller. ``stoker bench cluster_live`` and the integration tests read the lines: every
epoch must hold every sample exactly once, and epoch ends over time give the job's samples/s.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import ray

import stoker


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
    args = p.parse_args()
    tally = Tally()
    log = logging.getLogger("stoker")
    log.addHandler(tally)
    log.setLevel(logging.INFO)
    ray.init(address=args.address, logging_level=logging.ERROR, log_to_driver=False)
    pipe = stoker.from_items(list(range(args.samples))).shuffle(seed=1).map(spin(args.cpu_ms / 1000)).batch(args.batch)
    out = Path(args.out)
    with stoker.Loader(
        pipe, workers="auto", backend="ray", cluster=args.name, seed=0, interval=0.25, prefetch=args.prefetch
    ) as loader:
        for epoch in range(args.max_epochs):
            got: list[int] = []
            for batch in loader:
                got.extend(int(i) for i in batch.tolist())
                time.sleep(args.step_ms / 1000)
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
            if Path(args.stop).exists():
                break
        changes = len(loader.stats()["workers_timeline"]) - 1
    with out.open("a") as f:
        f.write(
            json.dumps({"done": True, "joined": tally.joined, "lost": tally.lost, "worker_changes": changes}) + "\n"
        )
    ray.shutdown()


if __name__ == "__main__":
    main()
