"""Lightning's ``_update_dataloader`` (how it injects its DistributedSampler) rebuilds a DataLoader.

Lightning rebuilds a loader from the ``__init__`` arguments it recorded while its hooks ran, or from
the loader's attributes when it recorded none. Both give a stoker loader with the new sampler and
stoker's own arguments; so does the case where only torch's ``__init__`` was recorded.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch.utils.data as tud
from torch.utils.data.distributed import DistributedSampler

from stoker import DataLoader  # before Lightning wraps the subclasses it knows, as docs/migration.md says

pytest.importorskip("pytorch_lightning")
from lightning_fabric.utilities.data import _replace_dunder_methods
from pytorch_lightning.utilities.data import _update_dataloader

DS = list(range(20))
KW: dict[str, Any] = dict(batch_size=4, shuffle=True, num_workers="auto", max_workers=2, seed=3, on_error="skip")


def _rebuilt(loader: DataLoader[Any]) -> DataLoader[Any]:
    sampler = DistributedSampler(DS, num_replicas=2, rank=1, shuffle=True, seed=0)
    new = _update_dataloader(loader, sampler)
    assert type(new) is DataLoader
    assert new.sampler is sampler and new.batch_size == 4
    return new


def test_rebuilt_from_the_recorded_arguments() -> None:
    with _replace_dunder_methods(tud.DataLoader, "dataset"):
        loader = DataLoader(DS, **KW)
    new = _rebuilt(loader)
    assert (new.seed, new.autoscale, new.num_workers, new.options) == (
        3,
        True,
        2,
        {"max_workers": 2, "on_error": "skip"},
    )


def test_rebuilt_from_the_attributes() -> None:
    new = _rebuilt(DataLoader(DS, **KW))
    assert (new.seed, new.autoscale, new.num_workers, new.options) == (
        3,
        True,
        2,
        {"max_workers": 2, "on_error": "skip"},
    )


def test_rebuilt_when_only_torchs_init_was_recorded() -> None:
    """The class first used inside a hook (created after Lightning wrapped the subclasses it knew)."""
    with _replace_dunder_methods(tud.DataLoader, "dataset"):
        wrapped = DataLoader.__init__
        DataLoader.__init__ = DataLoader.__old__init__  # type: ignore[attr-defined,method-assign]
        try:
            loader = DataLoader(DS, **KW)
        finally:
            DataLoader.__init__ = wrapped  # type: ignore[method-assign]
    new = _rebuilt(loader)  # torch's keyword arguments: nothing passed twice
    # stoker's own attributes, set after torch's __init__, are replayed by Lightning on the new loader.
    assert (new.seed, new.autoscale, new.num_workers, new.options) == (
        3,
        True,
        2,
        {"max_workers": 2, "on_error": "skip"},
    )
    assert len(new) == 3  # rank 1's half of 20 samples, in batches of 4
