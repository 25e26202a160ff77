"""``fifo``: first come first served with backfill, best-fit on GPUs; the baseline placement.

Called by the simulator and the live controller whenever jobs wait. Blind to GPU types beyond
``gpu_spec``: a job lands on whichever allowed node fits it tightest.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from stoker.cluster.policies import _backfill
from stoker.cluster.policies.base import Capacity
from stoker.cluster.records import Job


def place(queue: Sequence[Job], cap: Capacity, floor: Callable[[Job], np.ndarray]) -> list[tuple[str, str]]:
    return _backfill.place(queue, cap, floor, _backfill.best_fit)
