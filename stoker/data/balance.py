"""Keeping data-parallel ranks at the same item count whatever is filtered out or skipped.

DistributedDataParallel runs one collective per step, so a rank that yields one batch fewer
than another leaves the others waiting forever. The ledger deals every rank the same number of
splits (see :func:`stoker.data.splits.padded_splits`), but a split can come back short: a
``filter`` dropped samples, ``on_error="skip"`` dropped them, or a whole batch came back empty.
Each rank decides alone, with no collective of its own (which would hang exactly where the
trainer's does), so it pads each short split back to its nominal count by repeating items, as
``DistributedSampler`` pads uneven lengths with repeated samples: a split's own items first,
else the last item delivered before it, else the debt is paid at the next split that delivers.
Every rank then yields exactly ``len(loader)`` items.
"""

from __future__ import annotations

from typing import Any

from stoker.data.errors import StokerError

_NONE = object()


class Balancer:
    """Pads short splits of one rank's share so the rank yields its nominal item count.

    Args:
        enabled: Whether to pad (data-parallel runs); when False :meth:`fill` returns items as they are.
        rank: This rank, for messages.

    Attributes:
        owed: Items owed by splits that delivered nothing while no earlier item was at hand;
            saved in the ledger's state so a resumed rank still pays them.
    """

    def __init__(self, enabled: bool, rank: int = 0) -> None:
        self.enabled = enabled
        self.rank = rank
        self.owed = 0
        self.padded = 0  # items repeated so far (all epochs), for stats()
        self._last: Any = _NONE

    def begin(self, owed: int = 0) -> None:
        """Starts an epoch (or its resumed rest) that already owes ``owed`` items."""
        self.owed = owed
        self._last = _NONE

    def fill(self, items: list[Any], nominal: int) -> list[Any]:
        """``items`` of a split padded to ``nominal`` (plus any debt), repeating items cyclically.

        Args:
            items: What the split delivered.
            nominal: Items the split stands for (1 for a batch, its sample count unbatched).
        """
        if not self.enabled:
            return items
        short = max(0, nominal - len(items)) + self.owed
        if short == 0:
            if items:
                self._last = items[-1]
            return items
        pool = items if items else ([] if self._last is _NONE else [self._last])
        if not pool:
            self.owed = short
            return items
        self.owed = 0
        self.padded += short
        out = list(items) + [pool[i % len(pool)] for i in range(short)]
        self._last = out[-1]
        return out

    def finish(self, epoch: int) -> None:
        """Raises when the epoch ended with items owed: this rank delivered nothing at all.

        Raises:
            StokerError: Every sample of this rank's share was filtered out or skipped, so there
                is nothing to repeat and the other ranks would wait for it forever.
        """
        if self.enabled and self.owed:
            owed, self.owed = self.owed, 0
            raise StokerError(
                f"rank {self.rank} got no item at all in epoch {epoch}: every sample of its share was filtered "
                f"out or skipped, so it cannot pad its {owed} missing items and the other ranks would wait for "
                f"it forever. Check the filter and the skipped samples in stats(), or use fewer ranks."
            )
