"""A worker's exception re-raised in the trainer as its own type and as stoker.SampleError."""

from __future__ import annotations

import pickle

import pytest

import stoker
from stoker.data.errors import SampleError, find_class, sample_error


class NeedsTwoArgs(Exception):
    def __init__(self, a: int, b: int) -> None:
        super().__init__(a, b)


def make(original: type[BaseException] | None) -> SampleError:
    return sample_error(original, "KeyError in 'read' on sample 3 (file 'x.jpg')", (3,), "x.jpg", "read", "tb")


def test_original_type_and_sample_error_at_once() -> None:
    err = make(KeyError)
    assert isinstance(err, KeyError) and isinstance(err, stoker.SampleError)
    assert (err.indices, err.file, err.op, err.remote_traceback) == ((3,), "x.jpg", "read", "tb")
    assert str(err).startswith("KeyError in 'read' on sample 3")  # not the repr KeyError would print
    with pytest.raises(KeyError):
        raise err


def test_one_class_per_original_type() -> None:
    assert type(make(ValueError)) is type(make(ValueError))
    assert type(make(ValueError)).__name__ == "ValueError"


def test_types_with_their_own_layout_and_init() -> None:
    for kind in (OSError, FileNotFoundError, UnicodeDecodeError, NeedsTwoArgs, StopIteration):
        err = make(kind)
        assert isinstance(err, kind) and isinstance(err, SampleError), kind


def test_fallback_to_plain_sample_error() -> None:
    assert type(make(None)) is SampleError
    assert type(make(KeyboardInterrupt)) is SampleError  # not an Exception: never turned into one
    assert type(make(bool)) is SampleError  # type: ignore[arg-type]


def test_pickles_with_its_fields() -> None:
    err = pickle.loads(pickle.dumps(make(KeyError)))
    assert isinstance(err, KeyError) and isinstance(err, SampleError) and err.indices == (3,)


def test_find_class() -> None:
    assert find_class("builtins", "KeyError") is KeyError
    assert find_class(__name__, "NeedsTwoArgs") is NeedsTwoArgs
    assert find_class("no.such.module", "X") is None
    assert find_class("builtins", "len") is None  # not an exception class
