"""The main job: a small CNN trained on real JPEGs fed by autoscaled data workers.

Used by ``stoker demo`` and ``make demo``. Kept apart from the CLI wiring so examples and
tests can call :func:`run` directly.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

import stoker
from stoker.io import random_hflip, random_resized_crop, read_image, to_uint8_tensor
from stoker.sample_data import NUM_CLASSES, label_of, make_jpeg_folder

IMAGE_SIZE = 64


def decode_crop(path: str) -> tuple[torch.Tensor, int]:
    """JPEG -> random-resized-crop -> flip -> uint8 CHW tensor, with its label."""
    img = random_hflip(random_resized_crop(read_image(path), IMAGE_SIZE, scale=(0.25, 1.0)))
    return to_uint8_tensor(img), label_of(path)


class SmallCNN(nn.Module):
    """A CNN whose forward starts with stateless preprocessing (cast, scale, normalise with
    constant buffers): exactly the prefix stoker's partitioner can move to the data workers."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, classes: int = NUM_CLASSES) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, stride=2, padding=1),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
        )
        self.head = nn.Linear(32, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, 4:60, 4:60]  # train on the centre 56x56: a stateless crop the partitioner moves
        x = (x.float() / 255.0 - self.mean) / self.std
        return self.head(torch.flatten(self.features(x), 1))


def loss_and_hits(logits: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy and the number of correct predictions (traced with the model by the partitioner)."""
    return nn.functional.cross_entropy(logits, y), (logits.argmax(1) == y).sum()


@dataclass
class DemoReport:
    """What the demo measured."""

    steps: int
    seconds: float
    samples_per_s: float
    wait_fraction: float
    workers_max: int
    workers_timeline: list[tuple[float, int]]
    first_loss: float
    last_loss: float
    accuracy: float
    stage_ms_per_sample: dict[str, float]
    plan: str = ""
    diagnosis: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def run(
    data_dir: str | Path,
    steps: int = 300,
    images: int = 512,
    batch_size: int = 32,
    seed: int = 0,
    workers: int | str = "auto",
    progress: bool = True,
    threads: int | None = 1,
) -> DemoReport:
    """Builds the JPEG folder, trains for ``steps`` steps and returns the report.

    Args:
        threads: torch intra-op threads of this (the trainer's) process; None keeps torch's default
            of one per core. The data workers use one each already.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    if threads is not None:
        # The trainer's intra-op threads compete with the data workers for the same cores. With
        # torch's default (one per core) on a loaded 2-core machine, trainer-side ops slowed by up
        # to 100x when a thread was preempted mid-op; a small CNN gains little from more threads.
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    paths = make_jpeg_folder(Path(data_dir) / "jpegs", images, seed=seed)
    pipe = stoker.from_files(paths).shuffle(seed=seed).map(decode_crop).batch(batch_size, drop_last=True)
    model = SmallCNN()
    # Split the program: the stateless crop at the start of forward moves to the data workers
    # (it cuts the bytes each sample sends); BatchNorm and the parameters stay in the trainer.
    plan = stoker.partition(pipe, model, loss_and_hits)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses: list[float] = []
    correct = seen = 0
    t0 = time.perf_counter()
    with (
        stoker.Loader(plan, workers=workers, seed=seed) as loader,
        Progress(
            TextColumn("[bold]training"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} steps"),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            disable=not progress,
        ) as bar,
    ):
        task = bar.add_task("train", total=steps, info="")
        step = 0
        while step < steps:
            for received in loader:
                loss, hits = plan.train_module(*received)
                opt.zero_grad()
                loss.backward()
                opt.step()
                losses.append(loss.item())
                if step >= steps - 50:  # training accuracy over the last 50 steps
                    correct += int(hits)
                    seen += batch_size
                step += 1
                if step % 10 == 0 or step == steps:
                    s = loader.stats()
                    bar.update(
                        task,
                        completed=step,
                        info=f"{s['samples_per_s']:.0f} samples/s  "
                        f"workers {s['workers']}  data-wait {s['wait_fraction']:.0%}  loss {losses[-1]:.3f}",
                    )
                if step >= steps:
                    break
        stats = loader.stats()
        diagnosis = str(loader.diagnose())
    return DemoReport(
        steps=steps,
        seconds=time.perf_counter() - t0,
        samples_per_s=stats["samples_per_s"],
        wait_fraction=stats["wait_fraction"],
        workers_max=stats["workers_max"],
        workers_timeline=stats["workers_timeline"],
        first_loss=sum(losses[:10]) / min(10, len(losses)),
        last_loss=sum(losses[-10:]) / min(10, len(losses)),
        accuracy=correct / max(1, seen),
        stage_ms_per_sample={k: v * 1000 for k, v in stats["stage_s_per_sample"].items()},
        plan=plan.explain(),
        diagnosis=diagnosis,
    )


def render(report: DemoReport) -> str:
    """The short text report printed at the end of ``stoker demo``."""
    lines = [
        "stoker demo report",
        f"  steps {report.steps} in {report.seconds:.1f} s, {report.samples_per_s:.0f} samples/s delivered",
        f"  trainer waited on data {report.wait_fraction:.1%} of its time",
        f"  workers: max {report.workers_max}, timeline (s, n) {report.workers_timeline}",
        f"  loss {report.first_loss:.3f} -> {report.last_loss:.3f}, training accuracy (last 50 steps) {report.accuracy:.1%}",
        "  data-side ms per sample: " + ", ".join(f"{k} {v:.2f}" for k, v in report.stage_ms_per_sample.items()),
    ]
    if report.diagnosis:
        lines += ["", report.diagnosis]
    if report.plan:
        lines += ["", report.plan]
    return "\n".join(lines)
