"""What the stream runner reads from: a source of ``num_shards`` virtual shards of records."""

from __future__ import annotations

from typing import Any, Protocol


class ShardReader(Protocol):
    """An open virtual shard, positioned at record ``position`` (records consumed so far)."""

    position: int

    def next(self) -> Any:
        """The next record; raises ``StopIteration`` at the shard's end."""
        ...

    def state(self) -> Any:
        """The data set's ``state_dict()`` at ``position``, or None when it has none."""
        ...

    def where(self) -> str | None:
        """The file (and member) of the last record, for error messages; None when unknown."""
        ...

    def close(self) -> None: ...


class StreamSource:
    """Base of the stream sources: :class:`~stoker.data.streams.iterable.IterableSource` and the
    file shards of :mod:`stoker.data.shards`.

    Attributes:
        num_shards: Virtual shards (``K``); fixed, whatever the number of worker processes.
        name: A short label for plans and stats.
    """

    num_shards: int
    name: str

    @property
    def label(self) -> str:
        """What errors call the source: its name, or the data set with its library for iterables."""
        return self.name

    def open(self, shard: int, epoch: int, seed: int, start: int, resume: Any) -> ShardReader:
        """Opens virtual shard ``shard`` for ``epoch`` as near ``start`` as it can.

        A reader that can seek (file shards) or load ``resume`` (a data set's ``state_dict``)
        comes back at ``position == start``; one that cannot comes back at 0 and the runner
        replays and drops the records before ``start``.
        """
        raise NotImplementedError

    def __len__(self) -> int:
        raise TypeError(f"the stream {self.name!r} has no length; iterate it to its end")
