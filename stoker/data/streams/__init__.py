"""Streams: iterable data sets read as a fixed number of virtual shards, elastic and exactly-once.

A stream has no sample indices, so the ledger's unit is a block of records of one *virtual
shard* (a logical worker, :class:`torch.utils.data.get_worker_info` sees it as worker ``k`` of
``K``). ``K`` is fixed by the pipeline, not by how many processes run it, so the stream is the same
whatever the number of workers: block ``b`` of every shard in turn, as torch's DataLoader with
``num_workers=K`` interleaves its workers' batches.
"""

from stoker.data.streams.iterable import IterableSource, from_iterable
from stoker.data.streams.source import ShardReader, StreamSource
from stoker.data.streams.split import StreamResult, StreamSplit

__all__ = ["IterableSource", "ShardReader", "StreamResult", "StreamSource", "StreamSplit", "from_iterable"]
