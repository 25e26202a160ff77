"""Where data files are found: $STOKER_DATA_DIR, ../shared/data, the download cache, the packaged profiles;
and a missing file is one line that says how to get it."""

from __future__ import annotations

from pathlib import Path

import pytest

import stoker.paths as paths
from stoker.cluster.profiles import SYNERGY_FILE, load_profiles
from stoker.errors import InputError
from stoker.gavel_data import GAVEL_FILE
from stoker.paths import DataMissingError, data_dir, data_file

PODS = "alibaba-gpu-v2023-openb_pod_list_default.csv"


@pytest.fixture
def lonely(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A checkout with no ../shared beside it, $STOKER_DATA_DIR unset and an empty cache: a newcomer's."""
    monkeypatch.delenv(paths.ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(paths, "_shared_dirs", lambda: [tmp_path / "no-shared" / "data"])
    return tmp_path / "cache" / "stoker"


def test_a_newcomer_has_the_profiles_from_the_package(lonely: Path) -> None:
    for name in (SYNERGY_FILE, GAVEL_FILE):
        found = data_file(name)
        assert found.parent.name == "resources" and found.is_file()
        assert (found.parent / ("LICENSE-synergy.md" if name == SYNERGY_FILE else "LICENSE-gavel.txt")).is_file()
    assert load_profiles().models  # what `stoker simulate` reads first
    assert data_dir() == lonely  # not made yet: `stoker data fetch` makes it


def test_a_missing_trace_says_in_one_line_how_to_get_it(lonely: Path) -> None:
    with pytest.raises(DataMissingError) as info:
        data_file(PODS)
    message = str(info.value)
    assert "\n" not in message and "stoker data fetch" in message
    assert "https://raw.githubusercontent.com/alibaba/clusterdata/" in message and str(lonely) in message
    assert isinstance(info.value, InputError)  # the CLI prints it as one line, status 2


def test_the_cache_is_searched_after_the_other_folders(lonely: Path, tmp_path: Path, monkeypatch) -> None:
    lonely.mkdir(parents=True)
    (lonely / PODS).write_text("cached")
    assert data_file(PODS) == lonely / PODS
    own = tmp_path / "own"
    own.mkdir()
    (own / PODS).write_text("mine")
    (own / GAVEL_FILE).write_text("{}")
    monkeypatch.setenv(paths.ENV_VAR, str(own))
    assert data_file(PODS) == own / PODS and data_dir() == own
    assert data_file(GAVEL_FILE) == own / GAVEL_FILE  # a copy in the data folder wins over the package's
    assert data_file(SYNERGY_FILE).parent.name == "resources"


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_a_bad_data_dir_is_named(kind: str, lonely: Path, tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "nope"
    if kind == "file":
        target.write_text("not a folder")
    monkeypatch.setenv(paths.ENV_VAR, str(target))
    with pytest.raises(InputError, match="STOKER_DATA_DIR") as info:
        data_file(PODS)
    assert "\n" not in str(info.value)
