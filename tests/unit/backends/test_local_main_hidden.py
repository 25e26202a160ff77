"""main_hidden(): workers started meanwhile do not re-run the script, yet the script's names still resolve
(a result holding a ``__main__`` class by name may be unpickled in another thread while a worker starts)."""

from __future__ import annotations

import pickle
import sys
import types

import pytest

from stoker.backends.local import main_hidden


def test_the_scripts_names_resolve_while_its_file_stays_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    script = types.ModuleType("__main__")
    script.__file__ = "/somewhere/train.py"

    class Record:  # a sample type the training script defines
        pass

    Record.__module__, Record.__qualname__ = "__main__", "Record"
    script.Record = Record  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "__main__", script)
    blob = pickle.dumps(Record())  # by name: __main__.Record
    with main_hidden():
        hidden = sys.modules["__main__"]
        assert hidden is not script and getattr(hidden, "__file__", None) is None and hidden.__spec__ is None
        assert type(pickle.loads(blob)) is Record
        with pytest.raises(AttributeError):
            _ = hidden.not_defined_anywhere
    assert sys.modules["__main__"] is script
