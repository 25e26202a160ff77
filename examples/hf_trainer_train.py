"""Train a tiny GPT-2 with the Hugging Face ``Trainer`` on stoker's data workers.

The model is built from a small config here (no download), the data are token sequences made
locally. ``Trainer`` builds its loaders in ``get_train_dataloader`` / ``get_eval_dataloader`` and
hands them to accelerate; the subclass below builds ``stoker.DataLoader`` there instead and prepares
it with :func:`stoker.integrations.accelerate.prepare_data_loader`, so accelerate keeps its device
placement and gradient-accumulation bookkeeping while stoker's workers make the batches.

Run::

    python examples/hf_trainer_train.py --out /tmp/hf-run                  # stoker's workers
    python examples/hf_trainer_train.py --loader torch --out /tmp/hf-torch # the Trainer's own loaders

Writes ``<out>/result.json``: the per-step training losses, the evaluation losses, and what the
training loader was (class, batches it delivered).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch
import torch.utils.data as tud
from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments, default_data_collator

import stoker
from stoker.integrations.accelerate import prepare_data_loader


class Tokens(tud.Dataset[dict[str, torch.Tensor]]):
    """``n`` sequences of 16 token ids (a repeating pattern with seeded noise), labels = inputs."""

    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        base = torch.arange(16) % 8
        self.ids = (base + torch.randint(0, 3, (n, 16), generator=g)) % 64

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.ids[i], "labels": self.ids[i]}


class StokerTrainer(Trainer):
    """``Trainer`` whose training and evaluation batches come from ``stoker.DataLoader``."""

    stoker_loaders: list[stoker.DataLoader[Any]]

    def _stoker(self, dataset: Any, batch_size: int, shuffle: bool) -> Any:
        args = self.args
        loader = stoker.DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=shuffle,
            collate_fn=self.data_collator,
            drop_last=args.dataloader_drop_last,
            num_workers=args.dataloader_num_workers,
            pin_memory=args.dataloader_pin_memory,
            persistent_workers=args.dataloader_persistent_workers,
            prefetch_factor=args.dataloader_prefetch_factor,
        )
        prepared = prepare_data_loader(self.accelerator, loader)
        # The stoker.DataLoader accelerate iterates (this process's share): stats(), close().
        self.stoker_loaders = [*getattr(self, "stoker_loaders", []), prepared.base_dataloader]
        return prepared

    def get_train_dataloader(self) -> Any:
        return self._stoker(self.train_dataset, self._train_batch_size, shuffle=True)

    def get_eval_dataloader(self, eval_dataset: Any = None) -> Any:
        data = eval_dataset if eval_dataset is not None else self.eval_dataset
        return self._stoker(data, self.args.eval_batch_size, shuffle=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loader", choices=["stoker", "torch"], default="stoker")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    training = TrainingArguments(
        output_dir=str(args.out / "trainer"),
        per_device_train_batch_size=8,
        per_device_eval_batch_size=8,
        num_train_epochs=args.epochs,
        learning_rate=3e-3,
        logging_steps=1,
        eval_strategy="epoch",
        save_strategy="no",
        report_to="none",
        dataloader_num_workers=2,
        seed=0,
        use_cpu=True,
        disable_tqdm=True,
    )
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=64, n_positions=16, n_embd=32, n_layer=1, n_head=2))
    cls = StokerTrainer if args.loader == "stoker" else Trainer
    trainer = cls(
        model=model,
        args=training,
        train_dataset=Tokens(64, 0),
        eval_dataset=Tokens(24, 1),
        data_collator=default_data_collator,
    )
    trainer.train()
    history = trainer.state.log_history
    loaders = getattr(trainer, "stoker_loaders", [])
    result = {
        "train_loss": [h["loss"] for h in history if "loss" in h],
        "eval_loss": [h["eval_loss"] for h in history if "eval_loss" in h],
        "loader_class": type(loaders[0]).__qualname__ if loaders else "torch DataLoader",
        "train_batches_from_stoker": loaders[0].stats()["items"] if loaders else 0,
    }
    for loader in loaders:
        loader.close()
    (args.out / "result.json").write_text(json.dumps(result))
    print(f"{len(result['train_loss'])} steps, last loss {result['train_loss'][-1]:.4f}, eval {result['eval_loss']}")


if __name__ == "__main__":
    main()
