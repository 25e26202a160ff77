"""A Loader option that no part takes is refused when the Loader is built, naming it and the backend's own."""

from __future__ import annotations

import pytest

import stoker
from stoker.backends import check_options
from stoker.errors import InputError


def test_an_unknown_option_is_refused_at_construction_naming_the_backends_options() -> None:
    pipe = stoker.from_items([1, 2, 3])
    with pytest.raises(TypeError, match=r"unexpected keyword arguments \['cache_dir'\].*mp_context, shm_files"):
        stoker.Loader(pipe, workers=1, start_workers=False, cache_dir="/tmp/kept")
    with pytest.raises(TypeError, match=r"\['pipeline'\]"):  # the Loader's own to give, not the user's
        check_options("local", {"pipeline": pipe})
    with pytest.raises(InputError, match="unknown worker backend 'pid'"):
        stoker.Loader(pipe, workers=1, start_workers=False, backend="pid")


def test_the_backends_own_options_pass() -> None:
    check_options("local", {"mp_context": "fork", "shm_files": 4})
    with stoker.Loader(stoker.from_items([1, 2, 3]), workers=0, mp_context="fork", shm_files=2) as loader:
        assert [x for x in loader] == [1, 2, 3]
