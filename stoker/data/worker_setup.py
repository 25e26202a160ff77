"""What a torch-style worker does as it starts: ``get_worker_info()``, torch's seeding, ``worker_init_fn``.

:class:`stoker.DataLoader` attaches one of these to its pipeline; every worker process (local or
Ray) calls :meth:`WorkerSetup.apply` once, after loading the pipeline and before its first split.
The in-process mode (``num_workers=0``) never calls it, as torch never calls ``worker_init_fn``
there and ``get_worker_info()`` stays None.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class WorkerSetup:
    """Torch's per-worker start-up, as a picklable record.

    Attributes:
        num_workers: ``WorkerInfo.num_workers``: the worker count the DataLoader asked for.
        base_seed: The seed torch draws at ``iter()`` from the DataLoader's ``generator``; worker
            ``i`` gets ``base_seed + i`` as torch does.
        worker_init_fn: The user's ``worker_init_fn(worker_id)``, or None.
        per_sample_seed: Keep stoker's per-sample seeding of the global RNGs (the stream does not
            depend on which worker ran a sample). False when ``worker_init_fn`` is given: what it
            seeds or sets must reach ``__getitem__``, as with torch.
    """

    num_workers: int
    base_seed: int
    worker_init_fn: Callable[[int], Any] | None = None
    per_sample_seed: bool = True

    def apply(self, worker_id: int, dataset: Any) -> None:
        """Runs in the worker process: sets worker info, seeds as torch does, calls ``worker_init_fn``.

        Args:
            worker_id: The worker's number in its pool (0, 1, ... for the first workers; a
                replacement for a lost worker gets the next unused number).
            dataset: The worker's copy of the dataset (``WorkerInfo.dataset``).
        """
        import torch
        from torch.utils.data._utils import worker as torch_worker

        seed = self.base_seed + worker_id
        random.seed(seed)
        torch.manual_seed(seed)
        try:
            import numpy as np

            np.random.seed(torch_worker._generate_state(self.base_seed, worker_id))
        except ImportError:  # numpy is optional for torch
            pass
        # torch keeps the worker's info in this module global; get_worker_info() reads it.
        torch_worker._worker_info = torch_worker.WorkerInfo(
            id=worker_id, num_workers=self.num_workers, seed=seed, dataset=dataset
        )
        if self.worker_init_fn is not None:
            self.worker_init_fn(worker_id)


def apply_setup(pipeline: Any, worker_id: int) -> None:
    """Runs the pipeline's worker setup, if it has one (called by every backend's worker)."""
    setup = getattr(pipeline, "worker_setup", None)
    if setup is not None:
        setup.apply(worker_id, pipeline.source.data)
