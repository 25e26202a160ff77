"""``pin_memory=True``: batches copied to page-locked memory on a side thread, as torch does.

Torch's DataLoader pins in a thread between its workers and the training loop, so the copy
overlaps with the step. :class:`Pinner` does the same over a stoker Loader's epoch: the thread
runs the Loader (the ledger then has that one thread as its only writer) and hands the trainer
``(batch, state)`` pairs, where ``state`` is the Loader's ``state_dict()`` right after that
batch, so a checkpoint taken by the trainer never counts batches still in the queue.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

_END = object()


class _Raised:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class Pinner:
    """Pins the items of ``source`` on a daemon thread, ``depth`` items ahead of the trainer.

    Args:
        source: The epoch's items.
        restart: Returns an iterator over the rest of the epoch after ``source`` raised (torch
            goes on after a sample's error), or None to stop at the first error.
        snapshot: The Loader's state after the item just taken from ``source``.
        device: The accelerator type to pin for (``"cuda"``).
        depth: Pinned items held ahead.
        pin: ``pin(item, device)``; default torch's ``pin_memory`` (namedtuples, dicts and
            objects with a ``pin_memory()`` method as torch handles them).
    """

    def __init__(
        self,
        source: Iterator[Any],
        restart: Callable[[], Iterator[Any] | None] | None,
        snapshot: Callable[[], dict[str, Any]],
        device: str,
        depth: int = 2,
        pin: Callable[[Any, str], Any] | None = None,
    ) -> None:
        if pin is None:
            from torch.utils.data._utils.pin_memory import pin_memory as pin
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(source, restart, snapshot, device, pin), name="stoker-pin-memory", daemon=True
        )
        self._thread.start()

    def _put(self, value: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, source: Iterator[Any], restart: Any, snapshot: Any, device: str, pin: Any) -> None:
        it = source
        while not self._stop.is_set():
            try:
                item = next(it)
            except StopIteration:
                self._put(_END)
                return
            except BaseException as exc:  # handed to the trainer, which re-raises it
                if not self._put(_Raised(exc)):
                    return
                nxt = restart() if restart is not None else None
                if nxt is None:
                    self._put(_END)
                    return
                it = nxt
                continue
            if not self._put((pin(item, device), snapshot())):
                return

    def next(self) -> tuple[Any, dict[str, Any]]:
        """The next pinned item and the state after it; raises StopIteration at the end."""
        value = self._queue.get()
        if value is _END:
            self._queue.put(_END)  # later calls keep ending
            raise StopIteration
        if isinstance(value, _Raised):
            raise value.exc
        return value

    @property
    def thread(self) -> threading.Thread:
        return self._thread

    def close(self) -> None:
        """Stops the thread (it exits within 0.1 s, or when its current item is done)."""
        self._stop.set()
