"""Worker messages are types; an unknown one is an error, never dropped."""

from __future__ import annotations

import pickle

import pytest

from stoker.data import protocol as msg
from stoker.data.splits import Split


def test_messages_round_trip_through_pickle() -> None:
    for m in (msg.Run(Split(0, 3, (1, 2))), msg.Free(("a",)), msg.Drain(), msg.Started((0, 3)), msg.Bye()):
        assert pickle.loads(pickle.dumps(m)) == m


def test_an_unknown_message_is_a_protocol_error_naming_it() -> None:
    with pytest.raises(msg.ProtocolError, match=r"unknown message 'tuple'.*expected one of Run, Free, Drain"):
        msg.expect(("done", None), msg.TO_WORKER)
    with pytest.raises(msg.ProtocolError):
        msg.expect(msg.Run(Split(0, 0, ())), msg.TO_TRAINER)  # right type, wrong direction
    assert msg.expect(msg.Bye(), msg.TO_TRAINER) == msg.Bye()
