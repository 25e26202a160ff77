"""The shard's pipe reader takes whole messages, so a shard killed mid-read cannot break the framing."""

from __future__ import annotations

import multiprocessing as mp
import socket

from stoker.train.ps.shard_process import WholeReader


def test_each_read_takes_one_whole_message_and_leaves_the_next_intact() -> None:
    worker, shard = mp.Pipe()
    sent = [("push", 1, 3, 0.1), ("pull", 2, 3), ("push", 3, 4, 0.05)]
    for m in sent:
        worker.send(m)
    reader = WholeReader(shard)
    assert reader.recv() == sent[0]
    # What is left starts at a message boundary: multiprocessing's own reader frames it right.
    assert shard.recv() == sent[1]
    assert reader.recv() == sent[2]
    worker.close()
    try:
        reader.recv()
    except EOFError:
        pass
    else:
        raise AssertionError("a closed pipe should end the reader with EOFError")


def test_a_reader_that_dies_before_its_one_read_leaves_the_message_whole() -> None:
    worker, shard = mp.Pipe()
    worker.send(("pull", 7, 12))
    reader = WholeReader(shard)
    assert reader.sock is not None
    reader.sock.recv(4, socket.MSG_PEEK)  # everything the reader does before its consuming recv
    assert shard.recv() == ("pull", 7, 12)  # the restarted shard still reads it whole


def test_a_one_way_pipe_is_read_as_multiprocessing_does() -> None:
    shard, worker = mp.Pipe(duplex=False)
    worker.send(("pull", 1, 1))
    assert WholeReader(shard).sock is None
    assert WholeReader(shard).recv() == ("pull", 1, 1)
