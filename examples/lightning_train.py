"""Train a small regression model with PyTorch Lightning on stoker's data workers.

One device, or DDP on CPU ranks (gloo): Lightning rebuilds the training loader with its
``DistributedSampler`` and gets a ``stoker.DataLoader`` back. Validation and test loops run on
stoker loaders too, and the loaders' ``state_dict()`` travels in Lightning's checkpoints, so a run
resumed from a mid-epoch checkpoint continues with exactly the batches it had left.

Run::

    python examples/lightning_train.py --out /tmp/lightning-run                    # 1 device
    python examples/lightning_train.py --devices 2 --out /tmp/lightning-ddp         # DDP, 2 CPU ranks
    python examples/lightning_train.py --save-at-step 7 --out /tmp/a                # + mid-epoch checkpoint
    python examples/lightning_train.py --resume /tmp/a/mid.ckpt --out /tmp/b        # resume it
    python examples/lightning_train.py --loader torch --out /tmp/torch-run          # torch's DataLoader

Each rank writes ``<out>/rank<N>.json``: per training step the sample indices and the loss, the
validation and test batches, and the pids of the processes that read the samples.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
import torch.utils.data as tud
from torch import nn

# Imported by name at the top, before trainer.fit(): Lightning records the arguments of DataLoader
# subclasses that exist when it starts a loop, to rebuild them with its DistributedSampler.
from stoker import DataLoader as StokerDataLoader


class Regression(tud.Dataset[tuple[torch.Tensor, torch.Tensor, int, int]]):
    """``n`` samples of ``y = x . w + noise``, made locally and reproducibly; each also says its index
    and the pid of the process that read it (a data worker, when workers run)."""

    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, 8, generator=g)
        self.y = self.x @ torch.linspace(-1, 1, 8) + 0.1 * torch.randn(n, generator=g)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, int, int]:
        return self.x[i], self.y[i], i, os.getpid()


class Model(pl.LightningModule):
    def __init__(self, loader: str) -> None:
        super().__init__()
        self.net = nn.Linear(8, 1)
        self.loader_cls: Any = StokerDataLoader if loader == "stoker" else tud.DataLoader
        self.seen: dict[str, list[Any]] = {"train": [], "val": [], "test": []}
        self.pids: set[int] = set()

    def _loader(self, n: int, seed: int, **kw: Any) -> Any:
        extra = {"seed": 11} if self.loader_cls is StokerDataLoader else {}
        return self.loader_cls(Regression(n, seed), **kw, **extra)

    def train_dataloader(self) -> Any:
        return self._loader(96, 0, batch_size=8, shuffle=True, num_workers=2, persistent_workers=True)

    def val_dataloader(self) -> Any:
        return self._loader(40, 1, batch_size=16, num_workers=1)

    def test_dataloader(self) -> Any:
        return self._loader(24, 2, batch_size=8, num_workers=1)

    def _loss(self, batch: Any) -> torch.Tensor:
        x, y, _, pid = batch
        self.pids |= set(pid.tolist())
        return nn.functional.mse_loss(self.net(x).squeeze(1), y)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        loss = self._loss(batch)
        self.seen["train"].append([self.global_step, batch[2].tolist(), loss.item()])
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self.seen["val"].append([batch[2].tolist(), self._loss(batch).item()])

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self.seen["test"].append([batch[2].tolist(), self._loss(batch).item()])

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.05)


class SaveAt(pl.Callback):
    """Saves a checkpoint after training step ``step`` (mid-epoch) and lets the run go on."""

    def __init__(self, step: int, path: Path) -> None:
        self.step, self.path = step, path

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        if trainer.global_step == self.step:
            trainer.save_checkpoint(self.path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loader", choices=["stoker", "torch"], default="stoker")
    parser.add_argument("--devices", type=int, default=1, help="CPU ranks; 2 or more run DDP (gloo)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--save-at-step", type=int, default=0, help="save <out>/mid.ckpt after this step")
    parser.add_argument("--resume", default=None, help="a checkpoint to resume from")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    pl.seed_everything(0, verbose=False)
    model = Model(args.loader)
    callbacks = [SaveAt(args.save_at_step, args.out / "mid.ckpt")] if args.save_at_step else []
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=args.devices,
        strategy="ddp" if args.devices > 1 else "auto",
        max_epochs=args.epochs,
        callbacks=callbacks,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, ckpt_path=args.resume)
    train_loader = trainer.train_dataloader
    record = {
        "rank": trainer.global_rank,
        "loader_class": f"{type(train_loader).__module__}.{type(train_loader).__qualname__}",
        "sampler": type(train_loader.sampler).__name__,
        "seed": getattr(train_loader, "seed", None),
        "workers_stats": train_loader.stats() if hasattr(train_loader, "stats") else {},
    }
    trainer.test(model, verbose=False)
    record.update(model.seen, pids=sorted(model.pids), trainer_pid=os.getpid())
    (args.out / f"rank{trainer.global_rank}.json").write_text(json.dumps(record, default=str))
    print(f"rank {trainer.global_rank}: {len(model.seen['train'])} steps, last loss {model.seen['train'][-1][2]:.4f}")


if __name__ == "__main__":
    main()
