"""Hugging Face accelerate with stoker's workers: :func:`prepare_data_loader`.

``Accelerator.prepare()`` rebuilds every DataLoader as its own ``DataLoaderShard`` around a new
``torch.utils.data.DataLoader`` (accelerate's ``DataLoaderAdapter`` names torch's class), so a
``stoker.DataLoader`` given to it trains on torch's workers. accelerate has no hook for the class it
builds, but the shard keeps the loader it iterates in ``base_dataloader`` and reads everything it
needs (``__iter__``, ``state_dict``, ``load_state_dict``, ``batch_sampler``) from there. This helper
lets accelerate prepare the loader as usual (its per-process ``BatchSamplerShard``, device placement,
RNG synchronisation, gradient-accumulation state) and then puts a ``stoker.DataLoader`` with the same
arguments, the shard's batch sampler and the original loader's stoker options in ``base_dataloader``.
"""

from __future__ import annotations

from typing import Any

import torch.utils.data as tud

from stoker.data.dataloader import DataLoader

# torch's arguments accelerate copies onto the loader it builds (its _PYTORCH_DATALOADER_KWARGS, less
# the batching ones, which its batch sampler replaces).
_COPIED = (
    "num_workers",
    "collate_fn",
    "pin_memory",
    "timeout",
    "worker_init_fn",
    "multiprocessing_context",
    "generator",
    "prefetch_factor",
    "persistent_workers",
    "pin_memory_device",
    "in_order",
)


def prepare_data_loader(accelerator: Any, loader: tud.DataLoader[Any], device_placement: bool | None = None) -> Any:
    """``accelerator.prepare_data_loader(loader)``, with the batches made by stoker's workers.

    Args:
        accelerator: An ``accelerate.Accelerator``.
        loader: A ``stoker.DataLoader`` (its ``seed``, ``backend``, ``autoscale`` and other stoker
            options carry over) or a torch DataLoader (then stoker's defaults).
        device_placement: As ``Accelerator.prepare_data_loader``'s (default: the accelerator's).

    Returns:
        accelerate's prepared loader (``DataLoaderShard``, or ``DataLoaderDispatcher`` for an
        ``IterableDataset``), iterating a ``stoker.DataLoader``; its ``state_dict()`` is stoker's.

    Raises:
        TypeError: accelerate returned a loader without ``base_dataloader`` (not a version this
            helper knows); the message names the type.
    """
    prepared = accelerator.prepare_data_loader(loader, device_placement=device_placement)
    base = getattr(prepared, "base_dataloader", None)
    if not isinstance(base, tud.DataLoader):
        raise TypeError(
            f"accelerate prepared a {type(prepared).__name__} without a base_dataloader; "
            "stoker.integrations.accelerate knows DataLoaderShard and DataLoaderDispatcher (accelerate >= 1.0)"
        )
    if not isinstance(base, DataLoader):
        prepared.base_dataloader = _as_stoker(base, loader)
        prepared.dl_state_dict = prepared.base_dataloader.state_dict()  # what state_dict() returns before a batch
    return prepared


def _as_stoker(base: tud.DataLoader[Any], like: tud.DataLoader[Any]) -> DataLoader[Any]:
    """A ``stoker.DataLoader`` with ``base``'s data, batching and torch arguments and ``like``'s stoker options."""
    kwargs: dict[str, Any] = {name: getattr(base, name) for name in _COPIED}
    if isinstance(like, DataLoader):
        kwargs.update(
            seed=like.seed, backend=like.backend, split_size=like.split_size, autoscale=like.autoscale, **like.options
        )
    if kwargs["num_workers"] == 0:
        kwargs["prefetch_factor"] = None  # torch refuses a prefetch_factor in-process
    if base.batch_size is None and base.batch_sampler is not None:
        kwargs["batch_sampler"] = base.batch_sampler  # accelerate's BatchSamplerShard: this process's batches
    else:
        kwargs.update(batch_size=base.batch_size, drop_last=base.drop_last)
        if not isinstance(base.dataset, tud.IterableDataset):
            kwargs["sampler"] = base.sampler
    return DataLoader(base.dataset, **kwargs)
