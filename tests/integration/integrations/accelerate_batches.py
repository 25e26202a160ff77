"""Run by test_accelerate.py, alone or under ``accelerate launch --num_processes 2 --cpu``.

Iterates one prepared loader per kind (torch's DataLoader through ``accelerator.prepare``, and
``stoker.DataLoader`` through ``stoker.integrations.accelerate.prepare_data_loader``) for 2 epochs,
then resumes stoker's from a ``state_dict()`` taken mid-epoch, and writes what each process saw to
``<out>/rank<N>.json``: batches as sample indices, and the pids of the processes that read them.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import torch
import torch.utils.data as tud
from accelerate import Accelerator

import stoker
from stoker.integrations.accelerate import prepare_data_loader


class Indexed(tud.Dataset[tuple[torch.Tensor, int, int]]):
    """Sample ``i`` is ``(features, i, pid of the process that read it)``."""

    def __len__(self) -> int:
        return 36

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, int]:
        return torch.full((3,), float(i)), i, os.getpid()


def _loader(cls: type, **kw: Any) -> Any:
    g = torch.Generator().manual_seed(5)
    return cls(Indexed(), batch_size=4, shuffle=True, generator=g, num_workers=2, persistent_workers=True, **kw)


def _epochs(prepared: Any, n: int) -> tuple[list[list[int]], set[int]]:
    batches, pids = [], set()
    for epoch in range(n):
        prepared.set_epoch(epoch)
        for _, idx, pid in prepared:
            batches.append(idx.tolist())
            pids |= set(pid.tolist())
    return batches, pids


def main(out: Path) -> None:
    torch.manual_seed(0)
    acc = Accelerator(cpu=True)
    theirs, _ = _epochs(acc.prepare(_loader(tud.DataLoader)), 2)
    torch.manual_seed(0)
    ours_prepared = prepare_data_loader(acc, _loader(stoker.DataLoader))
    ours, pids = _epochs(ours_prepared, 2)
    base = ours_prepared.base_dataloader
    workers = set(base.pool.pids().values())
    # Mid-epoch state_dict: 3 batches into epoch 0, then a fresh prepared loader continues.
    torch.manual_seed(0)
    first = prepare_data_loader(acc, _loader(stoker.DataLoader))
    it = iter(first)
    head = [next(it)[1].tolist() for _ in range(3)]
    state = first.state_dict()
    first.base_dataloader.close()
    again = prepare_data_loader(acc, _loader(stoker.DataLoader))
    again.load_state_dict(state)
    rest = [idx.tolist() for _, idx, _ in again]
    again.base_dataloader.close()
    base.close()
    record = {
        "rank": acc.process_index,
        "processes": acc.num_processes,
        "torch": theirs,
        "stoker": ours,
        "stoker_class": type(base).__module__ + "." + type(base).__qualname__,
        "pids": sorted(pids),
        "stoker_workers": sorted(workers),
        "trainer_pid": os.getpid(),
        "resumed": head + rest,
    }
    (out / f"rank{acc.process_index}.json").write_text(json.dumps(record))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
