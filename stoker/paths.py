"""Where the measured traces and profiles live.

Folders are searched in this order: ``$STOKER_DATA_DIR``, ``../shared/data`` beside the checkout (or one
level up, for a git worktree), then the download cache (``$XDG_CACHE_HOME/stoker``, by default
``~/.cache/stoker``) that ``stoker data fetch`` fills. The small profile files also ship inside the
package (:mod:`stoker.resources`), so a fresh install has them without a download.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from stoker.errors import InputError

ENV_VAR = "STOKER_DATA_DIR"


class DataMissingError(InputError, FileNotFoundError):
    """A data file is in none of the data folders; the message says how to get it (one line)."""


def env_dir() -> Path | None:
    """``$STOKER_DATA_DIR`` as a path, or None when unset.

    Raises:
        InputError: It is set but names a file (a missing folder is fine: ``stoker data fetch`` makes it).
    """
    text = os.environ.get(ENV_VAR)
    if not text:
        return None
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise InputError(f"{ENV_VAR}={text!r} is not a folder; point it at the folder holding the trace files")
    return path


def cache_dir() -> Path:
    """The download cache: ``$XDG_CACHE_HOME/stoker``, else ``~/.cache/stoker`` (not created here)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "stoker"


def fetch_dir() -> Path:
    """Where ``stoker data fetch`` writes: ``$STOKER_DATA_DIR`` when set, else :func:`cache_dir`."""
    return env_dir() or cache_dir()


def _shared_dirs() -> list[Path]:
    repo = Path(__file__).resolve().parents[1]
    return [repo.parent / "shared" / "data", repo.parent.parent / "shared" / "data"]


def data_dirs() -> list[Path]:
    """Every data folder that exists, in search order (see the module docstring).

    Raises:
        InputError: ``$STOKER_DATA_DIR`` is set to a file, or to a folder that does not exist (a typo must
            not fall back silently to other data).
    """
    env = env_dir()
    if env is not None and not env.is_dir():
        raise InputError(
            f"{ENV_VAR}={str(env)!r} does not exist; create it and run `stoker data fetch`, or unset {ENV_VAR}"
        )
    candidates = ([env] if env is not None else []) + [*_shared_dirs(), cache_dir()]
    return [c for c in candidates if c.is_dir()]


def data_dir() -> Path:
    """The first data folder that exists; the cache folder (maybe not yet made) when none does.

    Raises:
        InputError: ``$STOKER_DATA_DIR`` is set to a file, or to a folder that does not exist.
    """
    found = data_dirs()
    return found[0] if found else cache_dir()


def bundled_file(name: str) -> Path | None:
    """The copy of ``name`` shipped in :mod:`stoker.resources`, or None."""
    path = Path(str(resources.files("stoker.resources") / name))
    return path if path.is_file() else None


def data_files(*names: str) -> list[Path]:
    """:func:`data_file` of each name; when several are missing, one line names them all.

    Raises:
        DataMissingError: Some are in no data folder (the message lists every missing one).
    """
    found: list[Path] = []
    missing: list[str] = []
    for name in names:
        try:
            found.append(data_file(name))
        except DataMissingError:
            missing.append(name)
    if len(missing) == 1:
        data_file(missing[0])  # raises the one-file message
    if missing:
        from stoker.public_data import how_to_get

        raise DataMissingError(f"{', '.join(missing)} are not in the data folders; {how_to_get(missing)}")
    return found


def data_file(name: str) -> Path:
    """The path of data file ``name``: the first data folder holding it, else the packaged copy.

    Raises:
        DataMissingError: No folder holds it; the one-line message names the file, the folders searched
            and the command (or URL) that gets it.
        InputError: ``$STOKER_DATA_DIR`` is set to a file or a missing folder.
    """
    for folder in data_dirs():
        if (folder / name).is_file():
            return folder / name
    bundled = bundled_file(name)
    if bundled is not None:
        return bundled
    from stoker.public_data import how_to_get

    searched = ", ".join(str(p) for p in [*([env_dir()] if env_dir() else []), *_shared_dirs(), cache_dir()])
    raise DataMissingError(f"{name} is not in {searched}; {how_to_get([name])}")
