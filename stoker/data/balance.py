"""Keeping data-parallel ranks at the same item count whatever is filtered out or skipped.

DistributedDataParallel runs one collective per step, so a rank that yields one batch fewer
than another leaves the others waiting forever. The ledger deals every rank the same number of
splits (see :func:`stoker.data.splits.padded_splits`), but a split can come back short: a
``filter`` dropped samples, ``on_error="skip"`` dropped them, or a whole batch came back empty.
Each rank decides alone, with no collective of its own (which would hang exactly where the
trainer's does), and pads as ``DistributedSampler`` pads uneven lengths, with repeats: a short
split is topped up cyclically with its own items, together with the debt of earlier splits that
delivered nothing; debt left at the end of the epoch is paid with the last item delivered. Every
rank then yields exactly ``len(loader)`` items, and a resumed rank the same items as the run that
saved it (the debt and the split to repeat are in the ledger's state).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stoker.data.errors import StokerError

_NONE = object()
NOTHING = object()  # pad_end: nothing owed


class Balancer:
    """Pads short splits of one rank's share so the rank yields its nominal item count.

    Args:
        enabled: Whether to pad (data-parallel runs); when False :meth:`fill` returns items as they are.
        rank: This rank, for messages.

    Attributes:
        owed: Items owed by splits that delivered nothing, paid by the next split that delivers.
        owed_before: ``owed`` when the current split was filled; a state saved inside that split
            records this, so re-running the split on resume rebuilds the same padded list.
        last_split: The last split that delivered (its last item pads the end of the epoch).
        padded: Items repeated so far (all epochs), for ``stats()``.
    """

    def __init__(self, enabled: bool, rank: int = 0) -> None:
        self.enabled = enabled
        self.rank = rank
        self.owed = 0
        self.owed_before = 0
        self.last_split: int | None = None
        self.padded = 0
        self._last: Any = _NONE

    def begin(self, owed: int = 0, last_split: int | None = None) -> None:
        """Starts an epoch (or its resumed rest) that owes ``owed`` items; ``last_split`` delivered last."""
        self.owed = self.owed_before = owed
        self.last_split = last_split
        self._last = _NONE

    def fill(self, items: list[Any], nominal: int, k: int) -> list[Any]:
        """Split ``k``'s ``items`` padded to ``nominal`` plus the debt, repeating its own items cyclically.

        Args:
            items: What the split delivered.
            nominal: Items the split stands for (1 for a batch, its sample count unbatched).
            k: The split's number.
        """
        if not self.enabled:
            return items
        self.owed_before = self.owed
        short = max(0, nominal - len(items))
        if not items:
            self.owed += short
            return items
        short += self.owed
        self.owed = 0
        self.padded += short
        self._last, self.last_split = items[-1], k
        return list(items) + [items[i % len(items)] for i in range(short)] if short else items

    def pad_end(self, epoch: int, regenerate: Callable[[int], Any]) -> Any:
        """One item of the debt left at the end of the epoch, or :data:`NOTHING` when none is owed.

        Args:
            epoch: The epoch, for the message.
            regenerate: Runs split ``k`` again and returns its last item (after a resume, the
                last item delivered is not in memory).

        Raises:
            StokerError: Every sample of this rank's share was filtered out or skipped, so there
                is nothing to repeat and the other ranks would wait for it forever.
        """
        if not self.enabled or not self.owed:
            return NOTHING
        if self._last is _NONE:
            if self.last_split is None:
                owed, self.owed = self.owed, 0
                raise StokerError(
                    f"rank {self.rank} got no item at all in epoch {epoch}: every sample of its share was "
                    f"filtered out or skipped, so it cannot pad its {owed} missing items and the other ranks "
                    f"would wait for it forever. Check the filter and the skipped samples in stats(), or use "
                    f"fewer ranks."
                )
            self._last = regenerate(self.last_split)
        self.owed -= 1
        self.owed_before = self.owed
        self.padded += 1
        return self._last
