"""Shard files through fsspec: local paths here, ``s3://`` / ``gs://`` where the user has them."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

_GLOB_CHARS = "*?["


def filesystem(url: str) -> tuple[Any, str]:
    """(fsspec filesystem, path within it) for a path or URL."""
    try:
        from fsspec.core import url_to_fs
    except ImportError as exc:  # an optional dependency
        raise ImportError("from_shards() opens files through fsspec: pip install 'stoker[shards]'") from exc

    return url_to_fs(url)


def expand(paths_or_glob: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[str]:
    """The shard files, as URLs fsspec can open, in sorted order for a glob, as given for a list.

    Raises:
        FileNotFoundError: A glob matches nothing, or a listed file does not exist.
        ValueError: The list is empty.
    """
    if isinstance(paths_or_glob, (str, os.PathLike)):
        text = os.fspath(paths_or_glob)
        fs, path = filesystem(text)
        if any(c in path for c in _GLOB_CHARS):
            found = sorted(fs.glob(path))
            if not found:
                raise FileNotFoundError(f"from_shards({text!r}): no files match; check the path and the pattern")
            return [_url(fs, text, p) for p in found]
        items: Sequence[str | os.PathLike[str]] = [text]
    else:
        items = list(paths_or_glob)
        if not items:
            raise ValueError("from_shards([]) got an empty list of shard files")
    out = []
    for item in items:
        text = os.fspath(item)
        fs, path = filesystem(text)
        if not fs.exists(path):
            raise FileNotFoundError(f"from_shards: shard file {text!r} does not exist")
        out.append(text)
    return out


def _url(fs: Any, pattern: str, path: str) -> str:
    """A globbed path back as a URL with the pattern's protocol (fsspec's glob drops it)."""
    if "://" not in pattern:
        return path
    protocol = pattern.split("://", 1)[0]
    return f"{protocol}://{path}" if "://" not in path else path


def open_file(url: str) -> Any:
    """Opens a shard for binary reading (seekable; remote stores read by ranges)."""
    fs, path = filesystem(url)
    return fs.open(path, "rb")


def fingerprint(url: str) -> tuple[str, int, str]:
    """(url, size, modification mark) so a cached index is dropped when the file changes."""
    fs, path = filesystem(url)
    info = fs.info(path)
    mark = info.get("mtime") or info.get("LastModified") or info.get("ETag") or info.get("etag") or ""
    return url, int(info.get("size") or 0), str(mark)
