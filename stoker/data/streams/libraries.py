"""What stoker knows about streaming libraries whose data sets manage their own workers.

:func:`~stoker.data.streams.iterable.from_iterable` runs virtual shard ``k`` of ``K`` with
``torch.utils.data.get_worker_info()`` saying worker ``k`` of ``K``; a worker process runs the
shards it owns one block after another, and a shard moves to another process when its worker dies
or is drained. A data set that shards itself by ``get_worker_info()`` alone (webdataset's
``split_by_worker``, litdata's ``_WorkerEnv.detect()``, the usual ``IterableDataset`` idiom) reads
the same records that way as in torch's worker ``k``. A data set that needs its ``K`` workers to
run *at the same time* cannot be cut so; this table names such libraries, the most virtual shards
each can be read as, and what to do instead. It is consulted when the pipeline is built
(:class:`~stoker.data.streams.iterable.IterableSource`), so the user gets the error at once
instead of a hang.
"""

from __future__ import annotations

from dataclasses import dataclass

from stoker.errors import InputError
from stoker.registry import Registry


@dataclass(frozen=True)
class LibraryRule:
    """How many virtual shards a library's data sets can be read as, and why not more.

    Attributes:
        max_shards: The most virtual shards (``num_workers`` seen by the data set) that work.
        why: What in the library stops more, in a sentence.
        instead: What the user can do, in a sentence.
    """

    max_shards: int
    why: str
    instead: str


LIBRARY_RULES: Registry[LibraryRule] = Registry(
    "streaming library",
    {
        # streaming/base/dataset.py: _get_work() waits on a shared-memory barrier for
        # workers_per_node workers before any sample; stoker's shards of one process run in turn.
        "mosaicml-streaming": LibraryRule(
            max_shards=1,
            why=(
                "its StreamingDataset starts an epoch only when all workers_per_node DataLoader workers reach a "
                "shared-memory barrier together, while stoker runs a worker's virtual shards one after another "
                "and moves a shard to another worker on its own, so the first shard would wait forever"
            ),
            instead=(
                "use stoker.DataLoader(..., num_workers=0) (read in the trainer), stoker.Loader("
                "stoker.from_iterable(dataset, num_shards=1), workers=1) (read in one stoker worker), or mosaic's "
                "own streaming.StreamingDataLoader for several worker processes"
            ),
        ),
    },
)


def check_shards(library: str, label: str, num_shards: int) -> None:
    """Refuses ``num_shards`` virtual shards for a data set of ``library`` when the table says so.

    Args:
        library: The installed distribution of the data set's class (``"mosaicml-streaming"``).
        label: The data set, as messages name it (``"mosaicml-streaming's StreamingDataset"``).
        num_shards: Virtual shards asked for (``num_workers`` for ``stoker.DataLoader``).

    Raises:
        InputError: The library cannot be read as ``num_shards`` virtual shards.
    """
    rule = LIBRARY_RULES.get(library)
    if rule is None or num_shards <= rule.max_shards:
        return
    raise InputError(
        f"{label} cannot be read as num_shards={num_shards} virtual shards (num_workers={num_shards} for "
        f"stoker.DataLoader): {rule.why}. Instead, {rule.instead}."
    )
